"""The blob ids of files this user has uploaded, so that a command run again with the same model or data does not send
them again.

The server stores every upload under the SHA-256 of its bytes (its blob id), so a file that has not changed since it was
sent has the same id. Each entry remembers, for one server and one caller (a hash of the token), a file's absolute path,
size, modification time and inode with the id the server answered; a file whose size, time or inode differ is sent
again. Nothing is hashed here: the id is the server's answer. A remembered id the server no longer holds (collected after
its retention, another tenant's) makes Submit answer NOT_FOUND; ``Client.compress`` then forgets it, sends the file and
submits again. The entries live in ``$XDG_CACHE_HOME/condense/uploads.json`` (``~/.cache`` by default; another folder with
``CONDENSE_CACHE_DIR``), the newest ``MAX_ENTRIES``.
"""
import json
import os

MAX_ENTRIES = 256


def default_path():
    folder = os.environ.get("CONDENSE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "condense")
    return os.path.join(folder, "uploads.json")


class UploadCache:
    """Remembered uploads of one server and caller (``scope``), read from and written to ``path``."""

    def __init__(self, scope, path=None):
        self.scope = scope
        self.path = path or default_path()
        self._entries = None

    def _load(self):
        if self._entries is None:
            try:
                with open(self.path) as f:
                    entries = json.load(f)
                self._entries = entries if isinstance(entries, list) else []
            except (OSError, ValueError):
                # no cache yet, or one that cannot be read: every file is sent
                self._entries = []
        return self._entries

    @staticmethod
    def _identity(path):
        status = os.stat(path)
        return [os.path.abspath(path), status.st_size, status.st_mtime_ns, status.st_ino]

    def blob_id(self, path):
        """The blob id this file was stored under on this server, or None when it was not sent or has changed since."""
        try:
            identity = self._identity(path)
        except OSError:
            return None
        for entry in self._load():
            if isinstance(entry, dict) and entry.get("scope") == self.scope and entry.get("file") == identity:
                return entry.get("blob_id")
        return None

    def remember(self, path, blob_id):
        """Records that this file, as it is now, is stored under ``blob_id``."""
        try:
            identity = self._identity(path)
        except OSError:
            return
        entries = [e for e in self._load() if not (isinstance(e, dict) and e.get("scope") == self.scope and e.get("file", [None])[0] == identity[0])]
        entries.append({"scope": self.scope, "file": identity, "blob_id": blob_id})
        self._entries = entries[-MAX_ENTRIES:]
        self._save()

    def forget(self, blob_ids):
        """Drops every entry of this scope naming one of these ids (the server no longer holds them)."""
        blob_ids = set(blob_ids)
        self._entries = [e for e in self._load() if not (isinstance(e, dict) and e.get("scope") == self.scope and e.get("blob_id") in blob_ids)]
        self._save()

    def _save(self):
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            temporary = "%s.%d.tmp" % (self.path, os.getpid())
            with open(temporary, "w") as f:
                json.dump(self._entries, f)
            os.replace(temporary, self.path)
        except OSError:
            # a cache that cannot be written only costs the next command its uploads
            pass
