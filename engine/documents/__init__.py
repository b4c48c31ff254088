"""Documents: collections, extraction, chunking, embeddings, hybrid search and assistants (see library.py)."""
