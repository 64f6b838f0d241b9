#!/usr/bin/python3
"""netasync-http (the HTTP client actor's program) against independent
servers: Python's http.server (HTTP/1.1, keep-alive), its ssl module for
https and mutual TLS, raw sockets for hostile servers, and nginx when it is
installed (scripts/bootstrap.sh installs it). Each case is one behaviour:
the pool reuses one connection for several URLs of one host (the server
counts its connections), -i prints the head, statuses set the exit code,
redirects are followed only when asked, a kept-alive connection the server
closed is retried once on a fresh one, and a garbage answer, a huge header,
an endless body, a silent server, a refused port and a TLS failure each
give their own clear error and exit 3. Every wait is bounded; every server
is stopped whatever happens.

  http_client_test.py BIN_DIR CERT_SCRIPT
"""
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

DEADLINE = 20  # seconds for each run of the program
BIN = None


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def run(*args, timeout=DEADLINE):
    """Runs netasync-http; returns (exit status, stdout bytes, stderr text)."""
    try:
        p = subprocess.run([os.path.join(BIN, "netasync-http"), *args],
                           capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"netasync-http {' '.join(args)} did not end within {timeout} s")
    return p.returncode, p.stdout, p.stderr.decode()


def last_line(err):
    lines = err.strip().splitlines()
    return lines[-1] if lines else ""


def expect(cond, what, out=None, err=None):
    if not cond:
        fail(f"{what}\n  stdout: {out!r}\n  stderr: {err!r}")


# -- an HTTP/1.1 server that counts its connections ---------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.connections += 1

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path
        if path == "/hello":
            self.reply(200, b"hello world!", [("Content-Type", "text/plain")])
        elif path.startswith("/n/"):
            self.reply(200, path[3:].encode() + b"\n")
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"one ", b"two ", b"three"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/missing":
            self.reply(404, b"no such thing")
        elif path == "/moved":
            self.reply(302, b"", [("Location", "/hello")])
        elif path.startswith("/to-port/"):
            self.reply(302, b"", [("Location", "http://127.0.0.1:%s/auth"
                                   % path[len("/to-port/"):])])
        elif path == "/to-auth":
            self.reply(302, b"", [("Location", "/auth")])
        elif path == "/auth":
            self.reply(200, self.headers.get("Authorization", "none").encode())
        elif path == "/loop":
            self.reply(302, b"", [("Location", "/loop")])
        elif path == "/then-close":
            # Keep-alive by its headers, but the connection ends right after:
            # the next request on it finds it closed.
            self.reply(200, b"first\n")
            self.close_connection = True
        else:
            self.reply(404, b"")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.reply(200, body, [("X-Method", "POST")])
        if self.path == "/then-close":
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    connections = 0


def serve(context=None):
    srv = Server(("127.0.0.1", 0), Handler)
    if context is not None:
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv


def url(srv, path, scheme="http"):
    return f"{scheme}://127.0.0.1:{srv.server_address[1]}{path}"


# -- a raw server that answers each connection with `answer(conn)` ------------

def raw_server(answer):
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(8)

    def loop():
        while True:
            try:
                conn, _ = lst.accept()
            except OSError:
                return
            def one(c=conn):
                try:
                    c.settimeout(DEADLINE)
                    c.recv(65536)
                    answer(c)
                except OSError:
                    pass
                finally:
                    c.close()
            threading.Thread(target=one, daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return lst, lst.getsockname()[1]


# -- cases --------------------------------------------------------------------

def urls_of_one_host_share_one_connection():
    srv = serve()
    try:
        code, out, err = run(url(srv, "/n/1"), url(srv, "/n/2"),
                             url(srv, "/n/3"), url(srv, "/chunked"))
        expect(code == 0, "exit 0", out, err)
        expect(out == b"1\n2\n3\none two three", "the bodies in order", out, err)
        expect(last_line(err) == "4 requests, 1 connections",
               "the last line counts one connection", out, err)
        expect(srv.connections == 1, f"the server saw {srv.connections} "
               "connections, not 1", out, err)
    finally:
        srv.shutdown()


def dash_i_prints_the_status_line_and_headers_first():
    srv = serve()
    try:
        code, out, err = run("-i", url(srv, "/hello"))
        expect(code == 0, "exit 0", out, err)
        head, _, body = out.partition(b"\r\n\r\n")
        expect(head.startswith(b"HTTP/1.1 200\r\n"), "the status line", out, err)
        expect(b"\r\nContent-Type: text/plain" in head, "the headers", out, err)
        expect(body == b"hello world!", "then the body", out, err)
    finally:
        srv.shutdown()


def an_error_status_exits_1_with_its_body():
    srv = serve()
    try:
        code, out, err = run(url(srv, "/hello"), url(srv, "/missing"))
        expect(code == 1, "exit 1", out, err)
        expect(out == b"hello world!no such thing", "both bodies", out, err)
    finally:
        srv.shutdown()


def data_is_posted_and_its_answer_printed():
    srv = serve()
    try:
        code, out, err = run("-d", "a=1&b=2", url(srv, "/echo"))
        expect(code == 0 and out == b"a=1&b=2", "the body echoed", out, err)
    finally:
        srv.shutdown()


def redirects_are_followed_only_when_asked_and_bounded():
    srv = serve()
    try:
        code, out, err = run("-i", url(srv, "/moved"))
        expect(code == 0 and out.startswith(b"HTTP/1.1 302\r\n"),
               "a 302 is the answer without --max-redirects", out, err)
        code, out, err = run("--max-redirects", "2", url(srv, "/moved"))
        expect(code == 0 and out == b"hello world!", "followed to /hello",
               out, err)
        code, out, err = run("--max-redirects", "3", url(srv, "/loop"))
        expect(code == 3 and "http_too_many_redirects" in err,
               "a redirect loop ends with http_too_many_redirects", out, err)
    finally:
        srv.shutdown()


def credentials_follow_a_redirect_only_within_the_origin():
    a, b = serve(), serve()
    try:
        auth = ["-H", "Authorization: Bearer t0ken", "--max-redirects", "1"]
        code, out, err = run(*auth, url(a, "/to-auth"))
        expect(code == 0 and out == b"Bearer t0ken", "kept on the same origin",
               out, err)
        code, out, err = run(*auth, url(a, f"/to-port/{b.server_address[1]}"))
        expect(code == 0 and out == b"none", "dropped for another origin",
               out, err)
    finally:
        a.shutdown()
        b.shutdown()


def a_kept_alive_connection_the_server_closed_is_retried_once():
    srv = serve()
    try:
        code, out, err = run(url(srv, "/then-close"), url(srv, "/n/2"))
        expect(code == 0 and out == b"first\n2\n",
               "the second request succeeds on a fresh connection", out, err)
        expect(last_line(err) == "2 requests, 2 connections",
               "two connections opened", out, err)
    finally:
        srv.shutdown()


def a_post_on_a_connection_the_server_closed_is_not_retried():
    srv = serve()
    try:
        code, out, err = run("-d", "x", url(srv, "/then-close"),
                             url(srv, "/then-close"))
        expect(code == 3 and out == b"x" and "connection_lost" in err,
               "the second POST may have been acted on: connection_lost",
               out, err)
        expect(srv.connections == 1, "and it was not sent again", out, err)
    finally:
        srv.shutdown()


def hostile_server(answer, expected, what, *flags):
    lst, port = raw_server(answer)
    try:
        code, out, err = run(*flags, f"http://127.0.0.1:{port}/")
        expect(code == 3 and expected in err, what, out, err)
    finally:
        lst.close()


def garbage_is_http_response_invalid():
    hostile_server(lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
                   "http_response_invalid", "garbage is refused")


def a_huge_header_is_too_large():
    def answer(c):
        c.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(5000):
            c.sendall(b"X-Filler-%d: %s\r\n" % (i, b"x" * 100))
    hostile_server(answer, "http_response_too_large",
                   "a 500 KB header is refused as it arrives")


def an_endless_body_stops_at_the_bound():
    def answer(c):
        c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"z" * 65536)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            c.sendall(chunk)
    hostile_server(answer, "http_response_too_large",
                   "an endless body ends at max-body-bytes")


def a_silent_server_times_out():
    def answer(c):
        time.sleep(5)
    start = time.monotonic()
    hostile_server(answer, "http_timeout", "no answer: http_timeout",
                   "--timeout", "0.5")
    took = time.monotonic() - start
    expect(took < 4, f"the timeout took {took:.1f} s, not about 0.5")


def a_refused_port_is_connect_failed():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, out, err = run(f"http://127.0.0.1:{port}/")
    expect(code == 3 and "connect_failed" in err, "connect_failed", out, err)
    expect(last_line(err) == "1 requests, 0 connections", "no connection",
           out, err)


def a_bad_command_line_exits_2():
    for args in (["--bogus", "http://127.0.0.1:1/"], [], ["ftp://x/"],
                 ["--tls-cert", "a.pem", "http://127.0.0.1:1/"]):
        code, out, err = run(*args)
        expect(code == 2, f"exit 2 for {args}", out, err)


def https_verifies_the_server_and_presents_a_client_certificate(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, "server.pem"),
                        os.path.join(certs, "server.key"))
    ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = serve(ctx)
    ca = os.path.join(certs, "ca.pem")
    try:
        code, out, err = run(url(srv, "/hello", "https"))
        expect(code == 3 and "tls_handshake_failed" in err
               and "certificate verify failed" in err,
               "without the test CA the server is not trusted", out, err)
        code, out, err = run("--tls-ca", ca, url(srv, "/hello", "https"))
        expect(code == 3 and "tls_handshake_failed" in err,
               "without a client certificate mutual TLS refuses", out, err)
        code, out, err = run("--tls-ca", ca,
                             "--tls-cert", os.path.join(certs, "client.pem"),
                             "--tls-key", os.path.join(certs, "client.key"),
                             url(srv, "/hello", "https"),
                             url(srv, "/n/2", "https"))
        expect(code == 0 and out == b"hello world!2\n",
               "with one it is served, over one connection", out, err)
        expect(last_line(err) == "2 requests, 1 connections", "one connection",
               out, err)
    finally:
        srv.shutdown()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def against_nginx(tmp, certs):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        print("nginx is not installed: its cases are skipped", flush=True)
        return False
    port = free_port()
    tls_port = free_port()
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    # nginx's worker runs as another user when started by root: it must
    # be able to read the files.
    for d in (os.path.dirname(tmp), tmp, root):
        os.chmod(d, 0o755)
    with open(os.path.join(root, "a.txt"), "wb") as f:
        f.write(b"A" * 4096)
    with open(os.path.join(root, "b.txt"), "wb") as f:
        f.write(b"bee\n")
    conf = os.path.join(tmp, "nginx.conf")
    log = os.path.join(tmp, "access.log")
    with open(conf, "w") as f:
        f.write(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {log} combined;
  log_format conn '$connection $request';
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    access_log {tmp}/conn.log conn;
    location /gz {{ gzip on; gzip_types text/plain; gzip_min_length 1;
                    alias {root}/a.txt; chunked_transfer_encoding on; }}
  }}
  server {{
    listen 127.0.0.1:{tls_port} ssl;
    root {root};
    ssl_certificate {certs}/server.pem;
    ssl_certificate_key {certs}/server.key;
    ssl_client_certificate {certs}/ca.pem;
    ssl_verify_client on;
  }}
}}
""")
    p = subprocess.Popen([nginx, "-c", conf, "-p", tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if p.poll() is not None:
                    fail(f"nginx did not start: {p.stderr.read()!r}")
                time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        code, out, err = run(f"{base}/a.txt", f"{base}/b.txt", f"{base}/a.txt",
                             f"{base}/nothing")
        expect(code == 1, "exit 1 for nginx's 404", out, err)
        expect(out.startswith(b"A" * 4096 + b"bee\n" + b"A" * 4096),
               "nginx's files in order", out, err)
        expect(last_line(err) == "4 requests, 1 connections", "one connection",
               out, err)
        with open(os.path.join(tmp, "conn.log")) as f:
            conns = {line.split()[0] for line in f if line.strip()}
        expect(len(conns) == 1, f"nginx logged connections {conns}, not one",
               out, err)
        code, out, err = run("-H", "Accept-Encoding: gzip", "-i", f"{base}/gz")
        expect(code == 0 and b"Transfer-Encoding: chunked" in out
               and b"Content-Encoding: gzip" in out,
               "a chunked, gzipped answer is read whole", out, err)
        tls_base = f"https://127.0.0.1:{tls_port}"
        ca = os.path.join(certs, "ca.pem")
        code, out, err = run("--tls-ca", ca, f"{tls_base}/b.txt")
        expect(code == 1 and b"No required SSL certificate" in out,
               "ssl_verify_client on: refused without a certificate", out,
               err)
        code, out, err = run("--tls-ca", ca,
                             "--tls-cert", os.path.join(certs, "client.pem"),
                             "--tls-key", os.path.join(certs, "client.key"),
                             f"{tls_base}/b.txt", f"{tls_base}/b.txt")
        expect(code == 0 and out == b"bee\nbee\n",
               "served with a client certificate", out, err)
        expect(last_line(err) == "2 requests, 1 connections",
               "over one connection", out, err)
    finally:
        p.terminate()
        try:
            p.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return True


def main():
    global BIN
    BIN = sys.argv[1]
    cert_script = sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="netasync-http-client-")
    try:
        certs = os.path.join(tmp, "certs")
        subprocess.run(["bash", cert_script, certs], check=True, timeout=60)
        for case in (urls_of_one_host_share_one_connection,
                     dash_i_prints_the_status_line_and_headers_first,
                     an_error_status_exits_1_with_its_body,
                     data_is_posted_and_its_answer_printed,
                     redirects_are_followed_only_when_asked_and_bounded,
                     credentials_follow_a_redirect_only_within_the_origin,
                     a_kept_alive_connection_the_server_closed_is_retried_once,
                     a_post_on_a_connection_the_server_closed_is_not_retried,
                     garbage_is_http_response_invalid,
                     a_huge_header_is_too_large,
                     an_endless_body_stops_at_the_bound,
                     a_silent_server_times_out,
                     a_refused_port_is_connect_failed,
                     a_bad_command_line_exits_2):
            case()
            print(f"ok: {case.__name__}", flush=True)
        https_verifies_the_server_and_presents_a_client_certificate(certs)
        print("ok: https_verifies_the_server_and_presents_a_client_certificate",
              flush=True)
        if against_nginx(os.path.join(tmp, "nginx"), certs):
            print("ok: against_nginx", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("all cases passed", flush=True)


if __name__ == "__main__":
    main()
