package testbed

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(conn net.Conn, msg string) (string, error) {
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return line, err
}

func TestProxyCutAndRestore(t *testing.T) {
	p := NewProxy(t, echoServer(t))

	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	defer conn.Close()
	if got, err := roundTrip(conn, "hello"); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: got %q, %v; want the echo", got, err)
	}

	p.Cut()
	if _, err := roundTrip(conn, "again"); err == nil {
		t.Fatal("an open connection still works after Cut")
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after Cut")
	}

	p.Restore()
	conn2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial after Restore: %v", err)
	}
	defer conn2.Close()
	if got, err := roundTrip(conn2, "back"); err != nil || got != "back\n" {
		t.Fatalf("after Restore: got %q, %v; want the echo", got, err)
	}
}

func TestProxyBlackhole(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	if got, err := roundTripWith(conn, r, "hello", 5*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: got %q, %v; want the echo", got, err)
	}

	p.Blackhole()
	got, err := roundTripWith(conn, r, "into the void", 300*time.Millisecond)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("in a black hole: got %q, %v; want a read timeout, not an answer or a closed connection", got, err)
	}
	// A new connection is accepted but answers nothing either.
	late, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial in a black hole: %v", err)
	}
	defer late.Close()
	lateR := bufio.NewReader(late)
	if got, err := roundTripWith(late, lateR, "late", 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("new connection in a black hole: got %q, %v; want a read timeout", got, err)
	}

	p.Restore()
	// What was held back arrives, in order, on the same connections.
	for _, c := range []struct {
		conn net.Conn
		r    *bufio.Reader
		want []string
	}{{conn, r, []string{"into the void\n", "after\n"}}, {late, lateR, []string{"late\n", "after\n"}}} {
		if err := c.conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.conn.Write([]byte("after\n")); err != nil {
			t.Fatalf("write after Restore: %v", err)
		}
		for _, want := range c.want {
			if got, err := c.r.ReadString('\n'); err != nil || got != want {
				t.Fatalf("after Restore: got %q, %v; want %q", got, err, want)
			}
		}
	}
}

// TestProxyCutEndsBlackhole: connections waiting in a black hole are
// dropped by Cut rather than kept waiting.
func TestProxyCutEndsBlackhole(t *testing.T) {
	p := NewProxy(t, echoServer(t))
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	defer conn.Close()
	p.Blackhole()
	if _, err := conn.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if got, err := roundTripWith(conn, bufio.NewReader(conn), "x", 5*time.Second); err == nil {
		t.Fatalf("after Cut in a black hole: got %q, want the connection closed", got)
	}
}

// roundTripWith sends msg and reads one line through r within d.
func roundTripWith(conn net.Conn, r *bufio.Reader, msg string, d time.Duration) (string, error) {
	if err := conn.SetDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

// TestProxyBlackholeHoldsClose: a client that gives up in a black hole is
// not seen closing by the server until the black hole ends, as with a
// network that drops every packet, FIN included.
func TestProxyBlackholeHoldsClose(t *testing.T) {
	server, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	p := NewProxy(t, server.Addr().String())
	client, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	upstream, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer upstream.Close()

	p.Blackhole()
	client.Close()
	if err := upstream.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	var ne net.Error
	if _, err := upstream.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("server side in a black hole: %v; want a read timeout, not the client's close", err)
	}
	p.Restore()
	if err := upstream.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := upstream.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server side after Restore: %v; want the client's close", err)
	}
}
