"""HTTP clients: keep-alive connections to the public listener, one-shot GETs, a unix socket."""

import http.client
import json
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (nginx's internal listener)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def parse_json(data):
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


HEADERS_KEPT = ["Idempotency-Key", "X-Cache", "X-Upstream", "Idempotent-Replayed", "ETag"]


class Client:
    """One keep-alive connection to the public listener; reopened after any error."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        """(status, kept headers, parsed body, error): status None on a connection error."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            self.conn.request(method, path, body=data, headers=headers or {})
            resp = self.conn.getresponse()
            raw = resp.read()
            kept = {h: resp.getheader(h) for h in HEADERS_KEPT if resp.getheader(h) is not None}
            if resp.will_close:
                self.close()
            return resp.status, kept, parse_json(raw), None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, {}, None, "%s: %s" % (type(e).__name__, e)


def get_json(conn, path, headers=None):
    """GET on `conn`: (status, parsed body); (None, error) on failure. Closes the connection."""
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, parse_json(resp.read())
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)
    finally:
        conn.close()


def public_get(port, path, timeout=5.0):
    return get_json(http.client.HTTPConnection("127.0.0.1", port, timeout=timeout), path)

