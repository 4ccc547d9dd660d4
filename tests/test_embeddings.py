"""The embedding stage and semantic search (issue 14 item 2), against real servers.

A real uvicorn server in a thread (the stage's events on the document, batch and case streams, the search
side through the services), a real OpenAI-compatible endpoint on 127.0.0.1 (success, refused, timeout, a
wrong model), a restart with another model (re-embedding with progress), and the bundled model loaded in a
process whose sockets may only reach loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from lexintel.embeddings import EmbeddingUnavailable
from lexintel.embeddings.remote import RemoteEmbedder
from lexintel.search.semantic import MatrixCache, has_vectors, semantic_passages
from lexintel.settings import Settings
from lexintel.store import vectors
from tests.embed_helpers import EmbeddingsEndpoint
from tests.live_server import LiveServer
from tests.support import free_port, read_stream, wait_for

ANSWER = ("Upon termination of this Agreement the Receiving Party shall promptly return or destroy all "
          "Confidential Information of the Disclosing Party, including every copy, note and summary of it.")
FILLER = [
    "The parties shall meet quarterly to review the marketing plan and the budget for trade shows in Europe.",
    "This Agreement is governed by the laws of the State of Delaware, without regard to conflict of laws.",
    "Invoices are payable within thirty days; late payments bear interest at one percent per month.",
    "Each party warrants that it has full corporate power to enter into this Agreement and to perform it.",
    "Notices must be in writing and delivered by hand, by courier, or by registered mail to the addresses below.",
]


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(data_dir=tmp_path / "data", extraction_workers=2, document_timeout=60, progress_interval=0.0,
                    ping_interval=0.5, auth="off", shutdown_grace=0, chunk_size=400, chunk_overlap=50)
    return base.with_overrides(**changes)


def big_text(passages: int) -> bytes:
    """About ``passages`` passages of 400 characters: the answer once, ordinary clauses around it."""
    parts = [FILLER[i % len(FILLER)] + f" Clause {i}." for i in range(passages)]
    parts.insert(passages // 2, ANSWER)
    return "\n\n".join(parts).encode()


def create_case(live: LiveServer, name: str = "Embeddings") -> str:
    return str(httpx.post(f"{live.url}/cases", json={"name": name}).json()["id"])


def upload(live: LiveServer, case_id: str, files: dict[str, bytes]) -> dict[str, Any]:
    resp = httpx.post(f"{live.url}/cases/{case_id}/documents",
                      files=[("files", (name, data)) for name, data in files.items()], timeout=30)
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


def document_events(live: LiveServer, doc_id: str) -> list[dict[str, Any]]:
    events = read_stream(f"{live.url}/progress/documents/{doc_id}/stream?events=named", timeout=120)
    return [e.data for e in events if isinstance(e.data, dict)]


def search(live: LiveServer, query: str, case_id: str, reader_id: str | None = None) -> list[tuple[int, float]]:
    return live.run(semantic_passages(live.services, query, case_id=case_id, reader_id=reader_id, limit=5))


def chunk_text(live: LiveServer, chunk_id: int) -> str:
    row = live.call(lambda: live.services.db.query_one("SELECT text FROM chunks WHERE id = ?", (chunk_id,)))
    assert row is not None
    return str(row[0])


def stored_models(live: LiveServer) -> dict[str, int]:
    rows = live.call(lambda: live.services.db.query(
        "SELECT m.name, COUNT(*) FROM chunk_vectors v JOIN embedding_models m ON m.id = v.model_id GROUP BY m.name"))
    return {str(r[0]): int(r[1]) for r in rows}


def embedding_run(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["stage"] == "embedding"]


# --- the stage, with the bundled model --------------------------------------------------------------------------

def test_the_stage_reports_passages_on_every_stream_and_semantic_search_finds_a_paraphrase(tmp_path: Path) -> None:
    live = LiveServer(settings_for(tmp_path)).start()
    try:
        case_id = create_case(live)
        upload_body = upload(live, case_id, {"nda.txt": big_text(2100), "short.txt": b"A short note about lunch."})
        doc_id = upload_body["document_ids"][0]
        batch_id = upload_body["batch_id"]

        events = document_events(live, doc_id)
        stages = [e["stage"] for e in events]
        assert stages.index("indexing") < stages.index("embedding") < stages.index("completed") == len(stages) - 1
        run = embedding_run(events)
        total = run[0]["items_total"]
        assert total > 512  # three worker calls of 256 passages: progress between them
        assert [e["items_done"] for e in run] == sorted(e["items_done"] for e in run)
        assert run[0]["items_done"] == 0 and run[-1]["items_done"] == total
        assert len({e["items_done"] for e in run}) >= 4 and all(e["items_total"] == total for e in run)
        assert all(e["eta_seconds"] is not None and e["eta_seconds"] >= 0 for e in run[1:])
        assert run[-1]["message"] == f"Embedding passage {total}/{total} of nda.txt"
        progress = [e["progress"] for e in events]
        assert progress == sorted(progress) and 95 <= run[0]["progress"] <= run[-1]["progress"] <= 100
        assert events[-1]["status"] == "completed"

        batch = read_stream(f"{live.url}/batches/{batch_id}/stream", timeout=120)
        on_batch = [e.data for e in batch if isinstance(e.data, dict) and e.data["document_id"] == doc_id]
        assert [e["items_done"] for e in embedding_run(on_batch)] == [e["items_done"] for e in run]
        case = read_stream(f"{live.url}/cases/{case_id}/stream", timeout=30,
                           until=lambda e: isinstance(e.data, dict) and e.data["document_id"] == doc_id
                           and e.data["status"] == "completed")
        on_case = [e.data for e in case if isinstance(e.data, dict) and e.data["document_id"] == doc_id]
        assert [e["items_done"] for e in embedding_run(on_case)] == [e["items_done"] for e in run]

        status = httpx.get(f"{live.url}/documents/{doc_id}/status").json()
        assert status["status"] == "indexed"
        assert stored_models(live) == {"wordllama/l2_supercat-256": status["chunks"] + 1}  # + the short note
        state = live.call(lambda: vectors.state(live.services.db, doc_id))
        assert state is not None and (state["status"], state["passages"], state["dim"]) == ("done", total, 256)

        # a paraphrase with none of the passage's words: keyword search misses it, semantic search ranks it first
        question = "must secret material be given back when the contract ends"
        keyword = httpx.get(f"{live.url}/search", params={"q": question, "case_id": case_id, "mode": "keyword"}).json()
        assert not any(ANSWER[:40] in hit["snippet"] for hit in keyword["hits"])
        # the default search over HTTP is hybrid once vectors exist, and finds it among its first hits
        default = httpx.get(f"{live.url}/search", params={"q": question, "case_id": case_id}).json()
        assert default["mode"] == "hybrid"
        assert any("semantic" in hit["matched_by"] for hit in default["hits"])
        semantic = httpx.get(f"{live.url}/search",
                             params={"q": question, "case_id": case_id, "mode": "semantic"}).json()
        assert semantic["hits"] and ANSWER[:40] in chunk_text(live, semantic["hits"][0]["passage_id"])
        hits = search(live, question, case_id)
        assert hits and ANSWER in chunk_text(live, hits[0][0])
        assert [score for _, score in hits] == sorted((score for _, score in hits), reverse=True)
        assert 0 < hits[-1][1] <= hits[0][1] <= 1.0001
        # access first: a reader who may not read the case gets nothing, not even a timing of its vectors
        assert search(live, question, case_id, reader_id="someone-else") == []
        assert live.run(has_vectors(live.services.db, case_id, None))
        assert not live.run(has_vectors(live.services.db, case_id, "someone-else"))

        # deleting a document takes its vectors out of the next search (the cached matrix is reloaded)
        assert httpx.delete(f"{live.url}/documents/{doc_id}").status_code == 204
        assert all(ANSWER not in chunk_text_or_empty(live, cid) for cid, _ in search(live, question, case_id))
        assert stored_models(live) == {"wordllama/l2_supercat-256": 1}
    finally:
        live.stop()


def test_hybrid_looks_for_meaning_only_inside_the_documents_the_words_pick(tmp_path: Path) -> None:
    """The question's words (here: a party's name) pick the document; its paraphrase sits in four others too.
    Semantic search alone finds those others; hybrid keeps its semantic half inside keyword's best documents,
    so the named document's paraphrase is added and the others' are not (issue 14: the default mode's quality)."""
    live = LiveServer(settings_for(tmp_path)).start()
    try:
        case_id = create_case(live)
        named = "\n\n".join([f"Zanzibar Shipping Ltd, clause {i}. {FILLER[i]}" for i in range(3)] + [ANSWER])
        files = {"zanzibar.txt": named.encode()}
        # four more files with the paraphrase and none of the question's words
        files.update({f"other-{i}.txt": "\n\n".join([FILLER[i], ANSWER]).encode() for i in range(4)})
        ids = upload(live, case_id, files)["document_ids"]
        for doc_id in ids:
            wait_for(lambda d=doc_id: httpx.get(f"{live.url}/documents/{d}/status").json()["status"] == "indexed",
                     120, "every document indexed and embedded")
        names = {doc_id: name for doc_id, name in zip(ids, files, strict=True)}
        question = "Zanzibar: must secret material be given back when the contract ends?"

        def hits(mode: str | None) -> list[dict[str, Any]]:
            params = {"q": question, "case_id": case_id, **({"mode": mode} if mode else {})}
            body = httpx.get(f"{live.url}/search", params=params).json()
            assert body["mode"] == (mode or "hybrid"), body
            return list(body["hits"])

        semantic_docs = {names[h["document_id"]] for h in hits("semantic")}
        assert semantic_docs > {"zanzibar.txt"}  # alone, meaning finds the paraphrase in the other files too
        keyword_docs = {names[h["document_id"]] for h in hits("keyword")}
        assert keyword_docs == {"zanzibar.txt"}  # the name is only in one file
        default = hits(None)
        assert {names[h["document_id"]] for h in default} == {"zanzibar.txt"}
        assert any("semantic" in h["matched_by"] for h in default)  # the paraphrase in it, found by meaning
    finally:
        live.stop()


def test_the_vector_cache_keeps_the_recently_searched_cases_within_its_bound(tmp_path: Path) -> None:
    live = LiveServer(settings_for(tmp_path)).start()
    try:
        cases = [create_case(live, f"Case {i}") for i in range(3)]
        for i, case_id in enumerate(cases):
            doc_id = upload(live, case_id, {f"nda-{i}.txt": big_text(5 + i)})["document_ids"][0]
            document_events(live, doc_id)
        db = live.services.db
        known = vectors.find_model(db, "wordllama/l2_supercat-256")
        assert known is not None
        model, dim = known
        one_case = 1024 * (dim * 4 + 8)  # a case's first matrix: room for 1,024 rows, and its ids
        cache = MatrixCache(max_bytes=2 * one_case + one_case // 2)  # room for two cases

        def view(case_id: str) -> int:
            ids, matrix = live.run(db.read(lambda conn: cache.view(conn, case_id, model, dim)))
            assert matrix.shape == (len(ids), dim)
            return len(ids)

        sizes = [view(case_id) for case_id in cases]
        assert sizes == sorted(sizes) and sizes[0] > 0  # each case's own passages (5, 6, 7 clauses and the answer)
        assert cache.cases() == [(cases[1], model), (cases[2], model)]  # the least recently searched went
        assert cache.nbytes <= cache.max_bytes
        assert view(cases[1]) == sizes[1]  # a hit: now the most recent
        assert view(cases[0]) == sizes[0]  # reloaded from SQLite, the same vectors
        assert cache.cases() == [(cases[1], model), (cases[0], model)]
    finally:
        live.stop()


def chunk_text_or_empty(live: LiveServer, chunk_id: int) -> str:
    row = live.call(lambda: live.services.db.query_one("SELECT text FROM chunks WHERE id = ?", (chunk_id,)))
    return "" if row is None else str(row[0])


def test_embeddings_off_skips_the_stage_and_semantic_search_is_empty(tmp_path: Path) -> None:
    live = LiveServer(settings_for(tmp_path, embeddings="off")).start()
    try:
        case_id = create_case(live)
        doc_id = upload(live, case_id, {"nda.txt": big_text(5)})["document_ids"][0]
        events = document_events(live, doc_id)
        assert [e["message"] for e in embedding_run(events)] == [
            "Semantic search is off (LEXINTEL_EMBEDDINGS=off); nda.txt is searchable by keyword"]
        assert events[-1]["status"] == "completed"
        assert search(live, "confidential information", case_id) == []
        assert stored_models(live) == {}
    finally:
        live.stop()


# --- a remote endpoint ------------------------------------------------------------------------------------------

def test_a_remote_endpoint_embeds_in_batches_with_the_key(tmp_path: Path) -> None:
    with EmbeddingsEndpoint() as endpoint:
        live = LiveServer(settings_for(tmp_path, embeddings="remote", embeddings_url=endpoint.url,
                                       embeddings_model="nomic-embed-text", embeddings_api_key="sk-test",
                                       embeddings_batch=16)).start()
        try:
            case_id = create_case(live)
            doc_id = upload(live, case_id, {"nda.txt": big_text(100)})["document_ids"][0]
            events = document_events(live, doc_id)
            run = embedding_run(events)
            total = run[0]["items_total"]
            assert [e["items_done"] for e in run][-1] == total and len(run) == 1 + -(-total // 16)
            assert events[-1]["status"] == "completed"
            assert max(endpoint.batches) == 16 and sum(endpoint.batches) == total
            assert set(endpoint.auth) == {"Bearer sk-test"} and set(endpoint.models) == {"nomic-embed-text"}
            assert stored_models(live) == {"remote/nomic-embed-text": total}
            hits = search(live, ANSWER, case_id)  # the endpoint embeds the query too
            assert ANSWER in chunk_text(live, hits[0][0]) and hits[0][1] > hits[1][1]
            assert endpoint.batches[-1] == 1
        finally:
            live.stop()


def test_an_unreachable_endpoint_fails_only_the_stage_and_the_background_retry_embeds_later(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet: connections are refused
    live = LiveServer(settings_for(tmp_path, embeddings="remote", embeddings_url=f"http://127.0.0.1:{port}/v1",
                                   embeddings_model="m", embeddings_retries=2, embeddings_timeout=2,
                                   embeddings_retry_interval=1)).start()
    try:
        case_id = create_case(live)
        doc_id = upload(live, case_id, {"nda.txt": big_text(10)})["document_ids"][0]
        events = document_events(live, doc_id)
        assert events[-1]["status"] == "completed" and events[-1]["stage"] == "completed"
        last = embedding_run(events)[-1]["message"]
        assert last.startswith("nda.txt is searchable by keyword, but not yet by meaning: the embeddings endpoint "
                               f"http://127.0.0.1:{port}/v1/embeddings is unreachable (could not connect: nothing "
                               "answers at that address and port) after 2 attempts. It will be embedded again "
                               "automatically"), last
        assert "Error" not in last and "Exception" not in last
        status = httpx.get(f"{live.url}/documents/{doc_id}/status").json()
        assert status["status"] == "indexed"
        keyword = httpx.get(f"{live.url}/search", params={"q": "confidential information", "case_id": case_id})
        assert keyword.json()["hits"], keyword.text  # keyword search does not wait for embeddings
        state = live.call(lambda: vectors.state(live.services.db, doc_id))
        assert state is not None and state["status"] == "failed" and "could not connect" in state["error_message"]
        assert search(live, "confidential information", case_id) == []

        with EmbeddingsEndpoint(port) as endpoint:  # the endpoint comes up: the retry embeds, as a new run
            wait_for(lambda: stored_models(live).get("remote/m"), timeout=60, what="background re-embedding")
            retry = document_events(live, doc_id)
            assert {e["run"] for e in retry} == {status["run"] + 1}
            done = embedding_run(retry)
            assert done[0]["items_done"] == 0 and done[-1]["items_done"] == done[-1]["items_total"] > 0
            assert retry[-1]["status"] == "completed" and "searchable by meaning again" in retry[-1]["message"]
            assert endpoint.batches
            assert search(live, ANSWER, case_id)
        assert httpx.get(f"{live.url}/documents/{doc_id}/status").json()["status"] == "indexed"
        state = live.call(lambda: vectors.state(live.services.db, doc_id))
        assert state is not None and state["status"] == "done"
        assert search(live, ANSWER, case_id) == []  # the endpoint is gone again: no semantic hits, no error
    finally:
        live.stop()


async def test_a_silent_endpoint_times_out_and_a_wrong_model_is_not_retried() -> None:
    with EmbeddingsEndpoint(delay=3.0) as silent:
        client = RemoteEmbedder(silent.url, "m", timeout=0.3, retries=2)
        with pytest.raises(EmbeddingUnavailable, match=r"did not answer within 0\.3 s after 2 attempts"):
            await client.embed(["a passage"])
        assert len(silent.batches) == 2
    with EmbeddingsEndpoint(status=404) as wrong:
        client = RemoteEmbedder(wrong.url, "nope", retries=3)
        with pytest.raises(EmbeddingUnavailable, match=r"refused the request \(404: model 'nope' not found\)"):
            await client.embed(["a passage"])
        assert len(wrong.batches) == 1  # trying again cannot help
    with EmbeddingsEndpoint(status=503) as busy:
        client = RemoteEmbedder(busy.url, "m", retries=2)
        with pytest.raises(EmbeddingUnavailable, match=r"answered 503 after 2 attempts"):
            await client.embed(["a passage"])
        assert len(busy.batches) == 2
    with EmbeddingsEndpoint() as good:
        for url in (good.url, good.url + "/embeddings", f"http://127.0.0.1:{good.port}"):
            matrix = await RemoteEmbedder(url, "m").embed(["one text", "another text"])
            assert matrix.shape == (2, 64)
            assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)


# --- a change of model ------------------------------------------------------------------------------------------

def test_changing_the_model_re_embeds_at_start_with_progress(tmp_path: Path) -> None:
    with EmbeddingsEndpoint() as endpoint:
        first = LiveServer(settings_for(tmp_path, embeddings="remote", embeddings_url=endpoint.url,
                                        embeddings_model="old-model")).start()
        try:
            case_id = create_case(first)
            doc_id = upload(first, case_id, {"nda.txt": big_text(800)})["document_ids"][0]
            before = document_events(first, doc_id)
            passages = embedding_run(before)[0]["items_total"]
            assert stored_models(first) == {"remote/old-model": passages}
        finally:
            first.stop()
    second = LiveServer(settings_for(tmp_path)).start()  # the default model now
    try:
        wait_for(lambda: stored_models(second) == {"wordllama/l2_supercat-256": passages}, timeout=120,
                 what="re-embedding with the new model (and the old vectors dropped)")
        events = document_events(second, doc_id)
        assert {e["run"] for e in events} == {before[-1]["run"] + 1}
        run = embedding_run(events)
        assert run[0]["message"].startswith("Embedding the passages of nda.txt for semantic search "
                                            "(wordllama/l2_supercat-256)")
        assert [e["items_done"] for e in run] == [0, 256, passages] and all(e["items_total"] == passages
                                                                           for e in run)
        assert [e["progress"] for e in run] == sorted(e["progress"] for e in run)
        assert events[-1]["status"] == "completed"
        assert httpx.get(f"{second.url}/documents/{doc_id}/status").json()["status"] == "indexed"
        hits = search(second, "must secret material be given back when the contract ends", case_id)
        assert hits and ANSWER in chunk_text(second, hits[0][0])
    finally:
        second.stop()


# --- the bundled model, with no network ---------------------------------------------------------------------------

GUARD = '''
import socket, os
_log = os.environ["NETWORK_GUARD_LOG"]
def _loopback(host):
    return str(host) in ("127.0.0.1", "localhost", "::1", "") or str(host).startswith("127.")
def _deny(what):
    with open(_log, "a") as f:
        f.write(what + "\\n")
    raise OSError("network access attempted: " + what)
_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _deny(f"connect {address}")
    return _connect(self, address)
socket.socket.connect = connect
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _loopback(host.decode() if isinstance(host, bytes) else host):
        _deny(f"getaddrinfo {host}")
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
'''


def test_the_bundled_model_loads_from_the_wheel_without_any_network(tmp_path: Path) -> None:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)  # every Python process started below has the guard
    log = tmp_path / "network.log"
    env = {**os.environ, "PYTHONPATH": f"{guard_dir}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NETWORK_GUARD_LOG": str(log), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path / "home")}
    script = textwrap.dedent('''
        import numpy as np
        from lexintel.embeddings import local
        texts = ["The receiving party shall return all confidential information.", "Governing law: Delaware."]
        ours = local.load().embed(texts)
        # wordllama's own inference over the same files gives the same vectors
        from tokenizers import Tokenizer
        from safetensors import safe_open
        from wordllama.inference import WordLlamaInference
        weights, tokenizer = local.model_files()
        with safe_open(str(weights), framework="np") as f:
            table = f.get_tensor("embedding.weight")
        theirs = WordLlamaInference(table, Tokenizer.from_file(str(tokenizer))).embed(texts, norm=True)
        print("diff", float(np.abs(ours - theirs).max()), ours.shape)
        # and wordllama's loader, as shipped, would go to the network for the tokenizer it cannot find
        from wordllama import WordLlama
        try:
            WordLlama.load()
        except Exception as exc:
            print("loader:", type(exc).__name__)
    ''')
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("diff ") and float(lines[0].split()[1]) < 1e-5 and "(2, 256)" in lines[0]
    attempts = log.read_text().splitlines()
    assert attempts and all("huggingface" in a for a in attempts), attempts  # only wordllama's own loader tried
    log.unlink()

    # a whole server (its worker processes too) embeds with the guard on: not one attempt
    port = free_port()
    server_env = {**env, "LEXINTEL_DATA_DIR": str(tmp_path / "data"), "LEXINTEL_PORT": str(port),
                  "LEXINTEL_AUTH": "off", "LEXINTEL_EXTRACTION_WORKERS": "1", "LEXINTEL_SHUTDOWN_GRACE": "0"}
    server_log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=server_env,
                            stdout=subprocess.DEVNULL, stderr=server_log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _up(url) or proc.poll() is not None, timeout=180, what="server up")
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        case_id = httpx.post(f"{url}/cases", json={"name": "Offline"}).json()["id"]
        resp = httpx.post(f"{url}/cases/{case_id}/documents", files=[("files", ("nda.txt", big_text(20)))])
        doc_id = resp.json()["document_ids"][0]
        events = [e.data for e in read_stream(f"{url}/progress/documents/{doc_id}/stream?events=named", timeout=60)
                  if isinstance(e.data, dict)]
        run = embedding_run(events)
        assert run[-1]["items_done"] == run[-1]["items_total"] > 0, events[-3:]
        assert events[-1]["status"] == "completed"
    finally:
        proc.terminate()
        proc.wait(30)
        server_log.close()
    assert not log.exists(), log.read_text()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_query_with_no_known_word_or_no_vectors_finds_nothing(tmp_path: Path) -> None:
    live = LiveServer(settings_for(tmp_path)).start()
    try:
        case_id = create_case(live)
        assert search(live, "confidential information", case_id) == []  # no vectors yet
        assert not live.run(has_vectors(live.services.db, case_id, None))
        assert search(live, "   ", case_id) == []
    finally:
        live.stop()


def test_embedding_settings_are_checked(tmp_path: Path) -> None:
    from lexintel.settings import SettingsError

    with pytest.raises(SettingsError, match="LEXINTEL_EMBEDDINGS: must be 'local', 'remote' or 'off'"):
        Settings.from_env({"LEXINTEL_EMBEDDINGS": "cloud"})
    with pytest.raises(SettingsError, match="LEXINTEL_EMBEDDINGS_URL: must be an http"):
        Settings.from_env({"LEXINTEL_EMBEDDINGS": "remote", "LEXINTEL_EMBEDDINGS_MODEL": "m"})
    with pytest.raises(SettingsError, match="LEXINTEL_EMBEDDINGS_MODEL: must name"):
        Settings.from_env({"LEXINTEL_EMBEDDINGS": "remote", "LEXINTEL_EMBEDDINGS_URL": "http://127.0.0.1:1/v1"})
    assert Settings.from_env({"LEXINTEL_EMBEDDINGS": "Remote", "LEXINTEL_EMBEDDINGS_URL": "http://127.0.0.1:1",
                              "LEXINTEL_EMBEDDINGS_MODEL": "m"}).embeddings == "remote"
