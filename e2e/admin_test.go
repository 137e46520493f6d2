package e2e

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStaleGatewayGetsNothing: after the gateway is killed with SIGKILL,
// something else takes its port; `sluice key set` tells that listener
// nothing and puts the key in the keyring itself, on the data directly.
func TestStaleGatewayGetsNothing(t *testing.T) {
	mode := currentKeyMode()
	if mode == keysInEnv {
		t.Skip("skipping: needs the throwaway Secret Service of ./test.sh (SLUICE_TEST_KEYRING=1)")
	}
	s := startSluice(t, sluiceEnv(t, mode), nil)
	addr := strings.TrimPrefix(s.url, "http://")
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.done

	// Another program now listens where the gateway did.
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen on the dead gateway's %s: %v", addr, err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []string // what each connection sent
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := io.ReadAll(io.LimitReader(c, 1<<20))
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
			}()
		}
	}()

	const key = "mistral-stale-test-0123456789abcdef"
	out := s.mustCLI(key+"\n", "key", "set", "mistral")
	if !strings.Contains(out, "stored the mistral key") {
		t.Errorf("key set = %q, want it stored", out)
	}
	out = s.mustCLI("", "key", "ls", "--json")
	var l struct {
		Keys []struct {
			Provider string `json:"provider"`
			Masked   string `json:"masked"`
			Source   string `json:"source"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("key ls --json = %q: %v", out, err)
	}
	found := false
	for _, k := range l.Keys {
		if k.Provider == "mistral" {
			found = k.Masked != "" && k.Source == "keyring"
		}
	}
	if !found {
		t.Errorf("key ls --json = %s, want the mistral key from the keyring", out)
	}
	s.mustCLI("", "key", "rm", "mistral")

	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) > 0 {
		t.Errorf("the listener on the dead gateway's port got %d connection(s): %q", len(got), got)
	}
}
