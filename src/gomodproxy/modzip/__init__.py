"""The on-disk side of module zips: directory trees, safe extraction, zip files by path.

Unlike :mod:`gomodproxy.module` this package reads and writes files.
"""

from gomodproxy.modzip.archive import (
    check_zip_file,
    hash_zip_file,
    write_module_zip,
    write_module_zip_from_dir,
)
from gomodproxy.modzip.dirfiles import (
    DirFile,
    check_dir,
    create_zip_from_dir,
    dir_files,
    hash_dir,
    hash_module_dir,
    list_files_in_dir,
    walk_tree,
)
from gomodproxy.modzip.extract import extract_zip, make_dirs_read_only, remove_tree

__all__ = [
    "DirFile",
    "check_dir",
    "check_zip_file",
    "create_zip_from_dir",
    "dir_files",
    "extract_zip",
    "hash_dir",
    "hash_module_dir",
    "hash_zip_file",
    "list_files_in_dir",
    "make_dirs_read_only",
    "remove_tree",
    "walk_tree",
    "write_module_zip",
    "write_module_zip_from_dir",
]
