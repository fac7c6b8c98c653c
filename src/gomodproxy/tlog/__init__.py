"""The transparency log of a checksum database, pure: signed notes and their keys, Merkle
hashes, tiles and proofs (ports of golang.org/x/mod/sumdb/note and tlog). No I/O."""
