package testbed

import (
	"bufio"
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
