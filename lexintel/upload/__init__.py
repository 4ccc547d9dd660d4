"""Receiving files: streamed multipart parsing, type sniffing, and turning files into pending documents."""
