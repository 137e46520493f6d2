package store

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/zalando/go-keyring"
)

// fakeKeyring is a keyringBackend in memory that can fail, block or panic.
type fakeKeyring struct {
	mu    sync.Mutex
	keys  map[string]string // by user; one service is enough here
	calls int
	// err, when not nil, is returned by every call.
	err error
	// block, when not nil, makes every call wait until it is closed.
	block chan struct{}
	// panicWith, when not nil, is what every call panics with.
	panicWith any
}

func (f *fakeKeyring) enter() error {
	f.mu.Lock()
	f.calls++
	block, err, p := f.block, f.err, f.panicWith
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if p != nil {
		panic(p)
	}
	return err
}

func (f *fakeKeyring) Get(service, user string) (string, error) {
	if err := f.enter(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.keys[user]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Set(service, user, password string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = make(map[string]string)
	}
	f.keys[user] = password
	return nil
}

func (f *fakeKeyring) Delete(service, user string) error {
	if err := f.enter(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.keys[user]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.keys, user)
	return nil
}

func (f *fakeKeyring) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// envMap returns an Env func reading m.
func envMap(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

const testKey = "sk-proj-T3stK3yAbcdefghijklmnopqrstuvwxyz0123a1b2"

func TestKeyringMask(t *testing.T) {
	tests := []struct {
		key, want string
	}{
		{"", "****"},
		{"abc", "****"},
		{"sk-abcdefghijklmnop", "****"},                      // 19 characters: 4 shown would leave 15 hidden
		{"abcdefghijklmnopqrst", "...qrst"},                  // 20: no known prefix
		{"sk-proj-abcdefghijklmnopqa1b2", "sk-proj-...a1b2"}, // prefix kept only with 16 hidden besides it
		{"sk-proj-abcdefghijklmnoa1b2", "...a1b2"},
		{"sk-abcdefghijklmnopqa1b2", "...a1b2"}, // "sk-" alone is no provider's documented prefix
		{testKey, "sk-proj-...a1b2"},
		{"sk-ant-api03-" + strings.Repeat("x", 80) + "QQAA", "sk-ant-...QQAA"},
		{"AIzaSyA" + strings.Repeat("y", 28) + "9zZz", "AIza...9zZz"},
		{"gsk_" + strings.Repeat("g", 48) + "wxyz", "gsk_...wxyz"},
		{strings.Repeat("é", 30) + "ünï€", "...ünï€"},
	}
	for _, tt := range tests {
		got := Mask(tt.key)
		if got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.key, got, tt.want)
		}
		if _, tail, ok := strings.Cut(got, "..."); ok && len([]rune(tail)) > 4 {
			t.Errorf("Mask(%q) = %q, shows more than the last 4 characters", tt.key, got)
		}
	}
}

func TestKeyringCachesKeys(t *testing.T) {
	ctx := t.Context()
	fake := &fakeKeyring{}
	env := envMap(map[string]string{"GROQ_API_KEY": "gsk_from_env_should_not_be_used"})
	k := &Keyring{backend: fake, Env: env}
	if err := k.Set(ctx, "openai", "  "+testKey+"\n"); err != nil {
		t.Fatalf("Set(openai) = %v, want nil", err)
	}
	if got := fake.keys["openai"]; got != testKey {
		t.Errorf("stored key = %q, want it trimmed", Mask(got))
	}

	// A second Keyring reads the keyring once, then answers from memory,
	// also when asked many times at once.
	k2 := &Keyring{backend: fake, Env: env}
	before := fake.callCount()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := k2.Key(ctx, "openai"); err != nil || got != testKey {
				t.Errorf("Key(openai) = %q, %v, want the stored key", Mask(got), err)
			}
		})
	}
	wg.Wait()
	if n := fake.callCount() - before; n != 1 {
		t.Errorf("keyring calls for 8 concurrent Key(openai) = %d, want 1", n)
	}
	if got := k2.Source("openai"); got != sourceKeyring {
		t.Errorf("Source(openai) = %q, want %q", got, sourceKeyring)
	}

	// The keyring works, so a provider with no key in it has none, even
	// with its variable set.
	if _, err := k2.Key(ctx, "groq"); !errors.Is(err, gateway.ErrNoKey) || errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(groq) = %v, want ErrNoKey and not ErrNoKeyring", err)
	}
	if got := k2.Source("groq"); got != "" {
		t.Errorf("Source(groq) = %q, want \"\"", got)
	}

	if err := k2.Delete(ctx, "openai"); err != nil {
		t.Fatalf("Delete(openai) = %v, want nil", err)
	}
	if _, err := k2.Key(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("Key(openai) after Delete = %v, want ErrNoKey", err)
	}
	if err := k2.Delete(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("second Delete(openai) = %v, want ErrNoKey", err)
	}
}

func TestKeyringRefusesBadInput(t *testing.T) {
	ctx := t.Context()
	fake := &fakeKeyring{}
	k := &Keyring{backend: fake}
	for _, tt := range []struct{ provider, key string }{
		{"openai", ""},
		{"openai", " \n"},
		{"openai", "sk-sluice-0123456789abcdef0123456789abcdef"},
		{"", testKey},
	} {
		err := k.Set(ctx, tt.provider, tt.key)
		if err == nil {
			t.Errorf("Set(%q, %q) = nil, want an error", tt.provider, Mask(tt.key))
		} else if strings.Contains(err.Error(), tt.key) && strings.TrimSpace(tt.key) != "" {
			t.Errorf("Set(%q, %q) = %q, which shows the key", tt.provider, Mask(tt.key), err)
		}
	}
	if _, err := k.Key(ctx, ""); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("Key(\"\") = %v, want ErrNoKey", err)
	}
	if n := fake.callCount(); n != 0 {
		t.Errorf("keyring calls = %d, want 0", n)
	}
}

func TestKeyringEnvFallback(t *testing.T) {
	ctx := t.Context()
	fake := &fakeKeyring{err: errors.New("The name org.freedesktop.secrets was not provided by any .service files")}
	k := &Keyring{backend: fake, Env: envMap(map[string]string{
		"OPENAI_API_KEY":    " " + testKey + "\n",
		"GOOGLE_API_KEY":    "AIza-google",
		"ANTHROPIC_API_KEY": "sk-sluice-0123456789abcdef", // a local token from `sluice env`
	})}

	backend, err := k.Probe(ctx)
	if backend != "Secret Service (D-Bus)" {
		t.Errorf("Probe() backend = %q, want %q", backend, "Secret Service (D-Bus)")
	}
	if !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("Probe() = %v, want ErrNoKeyring", err)
	}
	for _, want := range []string{"Secret Service", "gnome-keyring or KWallet", "environment", "for this run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Probe() error %q does not say %q", err, want)
		}
	}

	calls := fake.callCount()
	if got, err := k.Key(ctx, "openai"); err != nil || got != testKey {
		t.Errorf("Key(openai) = %q, %v, want OPENAI_API_KEY trimmed", Mask(got), err)
	}
	if got := k.Source("openai"); got != sourceEnvironment {
		t.Errorf("Source(openai) = %q, want %q", got, sourceEnvironment)
	}
	if got, err := k.Key(ctx, "gemini"); err != nil || got != "AIza-google" {
		t.Errorf("Key(gemini) = %q, %v, want GOOGLE_API_KEY", Mask(got), err)
	}
	_, err = k.Key(ctx, "anthropic")
	if !errors.Is(err, gateway.ErrNoKey) || !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(anthropic) with a local token in ANTHROPIC_API_KEY = %v, want ErrNoKey and ErrNoKeyring", err)
	}
	_, err = k.Key(ctx, "groq")
	if !errors.Is(err, gateway.ErrNoKey) || !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(groq) = %v, want ErrNoKey and ErrNoKeyring", err)
	} else if !strings.Contains(err.Error(), "GROQ_API_KEY is not set") {
		t.Errorf("Key(groq) = %q, want it to name GROQ_API_KEY", err)
	}
	if n := fake.callCount() - calls; n != 0 {
		t.Errorf("keyring calls by Key once the keyring failed = %d, want 0", n)
	}

	// Nothing is stored anywhere without a keyring.
	if err := k.Set(ctx, "mistral", testKey); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Set(mistral) = %v, want ErrNoKeyring", err)
	}
	if err := k.Delete(ctx, "openai"); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Delete(openai) = %v, want ErrNoKeyring", err)
	}
	if got, err := k.Key(ctx, "openai"); err != nil || got != testKey {
		t.Errorf("Key(openai) after a failed Delete = %q, %v, want the key from the environment", Mask(got), err)
	}

	// Once the keyring answers again, it is used instead of the environment.
	fake.mu.Lock()
	fake.err = nil
	fake.keys = map[string]string{"openai": "sk-from-keyring"}
	fake.mu.Unlock()
	if _, err := k.Probe(ctx); err != nil {
		t.Fatalf("Probe() after recovery = %v, want nil", err)
	}
	if got, err := k.Key(ctx, "openai"); err != nil || got != "sk-from-keyring" {
		t.Errorf("Key(openai) after recovery = %q, %v, want the keyring's key", Mask(got), err)
	}
	if got := k.Source("openai"); got != sourceKeyring {
		t.Errorf("Source(openai) after recovery = %q, want %q", got, sourceKeyring)
	}
}

func TestKeyringNoSessionBusMessage(t *testing.T) {
	k := &Keyring{backend: &fakeKeyring{err: errNoSessionBus}, Env: envMap(nil)}
	_, err := k.Probe(t.Context())
	if !errors.Is(err, ErrNoKeyring) {
		t.Fatalf("Probe() = %v, want ErrNoKeyring", err)
	}
	for _, want := range []string{"no D-Bus session bus", "DBUS_SESSION_BUS_ADDRESS", "gnome-keyring or KWallet", "OPENAI_API_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Probe() error %q does not say %q", err, want)
		}
	}
}

func TestKeyringSessionBusKnown(t *testing.T) {
	withBus := t.TempDir()
	if err := os.WriteFile(filepath.Join(withBus, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	withFile := t.TempDir()
	if err := os.WriteFile(filepath.Join(withFile, "dbus-session"), []byte("DBUS_SESSION_BUS_ADDRESS=unix:abstract=/tmp/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	tests := []struct {
		name, addr, dir string
		want            bool
	}{
		{"address set", "unix:path=/run/user/1000/bus", empty, true},
		{"nothing", "", empty, false},
		{"autolaunch only", "autolaunch:", empty, false},
		{"bus socket in runtime dir", "", withBus, true},
		{"address file in runtime dir", "", withFile, true},
		{"no runtime dir", "", filepath.Join(empty, "missing"), false},
	}
	for _, tt := range tests {
		getenv := envMap(map[string]string{"DBUS_SESSION_BUS_ADDRESS": tt.addr})
		if got := sessionBusKnown(getenv, tt.dir); got != tt.want {
			t.Errorf("sessionBusKnown(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKeyringTimeout(t *testing.T) {
	ctx := t.Context()
	fake := &fakeKeyring{block: make(chan struct{}), keys: map[string]string{"openai": "sk-from-keyring"}}
	unblocked := false
	unblock := func() {
		if !unblocked {
			unblocked = true
			close(fake.block)
		}
	}
	t.Cleanup(unblock)
	k := &Keyring{backend: fake, Timeout: 50 * time.Millisecond,
		Env: envMap(map[string]string{"OPENAI_API_KEY": "sk-from-env"})}

	start := time.Now()
	got, err := k.Key(ctx, "openai")
	if err != nil || got != "sk-from-env" {
		t.Errorf("Key(openai) with a hung keyring = %q, %v, want the key from the environment", Mask(got), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Key(openai) with a hung keyring took %v, want about the 50ms timeout", d)
	}

	// The hung call keeps the keyring busy: later calls give up without
	// piling more calls onto it.
	err = k.Set(ctx, "groq", testKey)
	if !errors.Is(err, errKeyringTimeout) || !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Set(groq) with a hung keyring = %v, want errKeyringTimeout and ErrNoKeyring", err)
	}
	backend, err := k.Probe(ctx)
	if !errors.Is(err, errKeyringTimeout) || !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Probe() with a hung keyring = %q, %v, want errKeyringTimeout and ErrNoKeyring", backend, err)
	} else if !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("Probe() with a hung keyring = %q, want it to say it did not answer within 50ms", err)
	}
	if n := fake.callCount(); n != 1 {
		t.Errorf("keyring calls while one hangs = %d, want 1", n)
	}

	// When the hung call gets its answer, the keyring is used again.
	unblock()
	deadline := time.Now().Add(5 * time.Second)
	for k.Source("openai") != sourceKeyring {
		if time.Now().After(deadline) {
			t.Fatalf("Source(openai) after the keyring answered = %q, want %q", k.Source("openai"), sourceKeyring)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, err := k.Key(ctx, "openai"); err != nil || got != "sk-from-keyring" {
		t.Errorf("Key(openai) after the keyring answered = %q, %v, want the keyring's key", Mask(got), err)
	}
	if err := k.Set(ctx, "groq", testKey); err != nil {
		t.Errorf("Set(groq) after the keyring answered = %v, want nil", err)
	}
}

func TestKeyringContextCanceled(t *testing.T) {
	fake := &fakeKeyring{block: make(chan struct{})}
	defer close(fake.block)
	k := &Keyring{backend: fake, Env: envMap(map[string]string{"OPENAI_API_KEY": "sk-from-env"})}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := k.Key(ctx, "openai")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(openai) with an expiring context = %v, want DeadlineExceeded and not ErrNoKeyring", err)
	}
	if got := k.Source("openai"); got != "" {
		t.Errorf("Source(openai) = %q, want \"\": a caller giving up says nothing about the keyring", got)
	}
}

// TestKeyringNeverShowsKey checks that a backend error or panic carrying
// the key does not carry it out of Keyring.
func TestKeyringNeverShowsKey(t *testing.T) {
	ctx := t.Context()
	echo := &fakeKeyring{err: errors.New("cannot store secret " + testKey)}
	err := (&Keyring{backend: echo}).Set(ctx, "openai", testKey)
	if !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Set(openai) = %v, want ErrNoKeyring", err)
	}
	walkErrors(err, func(e error) {
		if strings.Contains(e.Error(), testKey) {
			t.Errorf("Set(openai) error %q, or one it wraps, shows the key", err)
		}
	})
	if err != nil && !strings.Contains(err.Error(), Mask(testKey)) {
		t.Errorf("Set(openai) = %q, want the cause with the key masked", err)
	}

	panicky := &fakeKeyring{panicWith: "bad secret " + testKey}
	err = (&Keyring{backend: panicky}).Set(ctx, "openai", testKey)
	if !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Set(openai) with a panicking keyring = %v, want ErrNoKeyring", err)
	} else if strings.Contains(err.Error(), testKey) {
		t.Errorf("Set(openai) with a panicking keyring = %q, which shows the key", err)
	}
}

// walkErrors calls f on err and every error it wraps.
func walkErrors(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(e.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range e.Unwrap() {
			walkErrors(e, f)
		}
	}
}

// mockEnv marks the child process in which a test runs against go-keyring's
// own mock.
const mockEnv = "SLUICE_TEST_GO_KEYRING_MOCK"

// inMockProcess reports whether the calling test runs in a child process
// with go-keyring's process-wide provider replaced by keyring.MockInit. If
// not, it runs the test in such a child and reports false. The swap cannot
// be undone, and the Secret Service tests in this binary need the real
// provider.
func inMockProcess(t *testing.T) bool {
	if os.Getenv(mockEnv) != "" {
		return true
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	// The mock never dials a bus; an address only lets the session bus
	// check pass where the real keyring would be reached through one.
	cmd.Env = append(os.Environ(), mockEnv+"=1", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/sluice-test-bus")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Errorf("%s in a child process: %v\n%s", t.Name(), err, out)
	}
	return false
}

func TestKeyringGoKeyringMock(t *testing.T) {
	if !inMockProcess(t) {
		return
	}
	ctx := t.Context()

	keyring.MockInit()
	k := &Keyring{Env: envMap(map[string]string{"OPENAI_API_KEY": "sk-from-env"})}
	if _, err := k.Probe(ctx); err != nil {
		t.Fatalf("Probe() = %v, want nil", err)
	}
	if _, err := k.Key(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) || errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(openai) = %v, want ErrNoKey and not ErrNoKeyring", err)
	}
	if err := k.Set(ctx, "openai", testKey); err != nil {
		t.Fatalf("Set(openai) = %v, want nil", err)
	}
	if got, err := keyring.Get(defaultService, "openai"); err != nil || got != testKey {
		t.Errorf("keyring.Get(sluice, openai) = %q, %v, want the key under service sluice", Mask(got), err)
	}
	k2 := &Keyring{}
	if got, err := k2.Key(ctx, "openai"); err != nil || got != testKey {
		t.Errorf("Key(openai) = %q, %v, want the stored key", Mask(got), err)
	}
	if err := k2.Delete(ctx, "openai"); err != nil {
		t.Errorf("Delete(openai) = %v, want nil", err)
	}
	if err := k2.Delete(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("second Delete(openai) = %v, want ErrNoKey", err)
	}

	keyring.MockInitWithError(errors.New("org.freedesktop.DBus.Error.ServiceUnknown"))
	k3 := &Keyring{Env: envMap(map[string]string{"OPENAI_API_KEY": "sk-from-env"})}
	if got, err := k3.Key(ctx, "openai"); err != nil || got != "sk-from-env" {
		t.Errorf("Key(openai) with a failing keyring = %q, %v, want the key from the environment", Mask(got), err)
	}
	if err := k3.Set(ctx, "openai", testKey); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("Set(openai) with a failing keyring = %v, want ErrNoKeyring", err)
	}
	if _, err := k3.Probe(ctx); !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "ServiceUnknown") {
		t.Errorf("Probe() with a failing keyring = %v, want ErrNoKeyring naming the cause", err)
	}
}

// requireSecretService skips the test when no D-Bus session is available,
// unless SLUICE_REQUIRE_KEYRING is set, in which case it fails instead.
func requireSecretService(t *testing.T) {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return
	}
	if os.Getenv("SLUICE_REQUIRE_KEYRING") != "" {
		t.Fatal("SLUICE_REQUIRE_KEYRING is set but DBUS_SESSION_BUS_ADDRESS is empty: run the tests under dbus-run-session with gnome-keyring-daemon unlocked")
	}
	t.Skip("no D-Bus session (DBUS_SESSION_BUS_ADDRESS is empty); run under dbus-run-session with gnome-keyring-daemon to test against a real Secret Service")
}

func TestKeyringSecretService(t *testing.T) {
	requireSecretService(t)
	ctx := t.Context()
	service := "sluice-test-" + rand.Text()[:12]
	t.Cleanup(func() {
		if err := keyring.DeleteAll(service); err != nil {
			t.Errorf("keyring.DeleteAll(%s) = %v", service, err)
		}
	})
	noEnv := envMap(map[string]string{"OPENAI_API_KEY": "sk-from-env", "GROQ_API_KEY": "gsk-from-env"})

	k := &Keyring{Service: service, Env: noEnv}
	backend, err := k.Probe(ctx)
	if err != nil {
		t.Fatalf("Probe() = %q, %v, want a working keyring", backend, err)
	}
	if backend != "Secret Service (D-Bus)" {
		t.Errorf("Probe() backend = %q, want %q", backend, "Secret Service (D-Bus)")
	}
	if err := k.Set(ctx, "openai", testKey); err != nil {
		t.Fatalf("Set(openai) = %v, want nil", err)
	}
	if got := k.Source("openai"); got != sourceKeyring {
		t.Errorf("Source(openai) after Set = %q, want %q", got, sourceKeyring)
	}
	// Set replaces.
	if err := k.Set(ctx, "openai", testKey+"Z"); err != nil {
		t.Fatalf("second Set(openai) = %v, want nil", err)
	}
	if err := k.Set(ctx, "openai", testKey); err != nil {
		t.Fatalf("third Set(openai) = %v, want nil", err)
	}

	// A new instance reads it from the keyring, not from memory.
	k2 := &Keyring{Service: service, Env: noEnv}
	if got, err := k2.Key(ctx, "openai"); err != nil || got != testKey {
		t.Errorf("new Keyring Key(openai) = %q, %v, want the stored key", Mask(got), err)
	}
	if got := k2.Source("openai"); got != sourceKeyring {
		t.Errorf("new Keyring Source(openai) = %q, want %q", got, sourceKeyring)
	}
	// The keyring works, so the environment is not used.
	if _, err := k2.Key(ctx, "groq"); !errors.Is(err, gateway.ErrNoKey) || errors.Is(err, ErrNoKeyring) {
		t.Errorf("Key(groq) = %v, want ErrNoKey and not ErrNoKeyring", err)
	}

	if err := k2.Delete(ctx, "openai"); err != nil {
		t.Fatalf("Delete(openai) = %v, want nil", err)
	}
	if _, err := k2.Key(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("Key(openai) after Delete = %v, want ErrNoKey", err)
	}
	k3 := &Keyring{Service: service, Env: noEnv}
	if _, err := k3.Key(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("new Keyring Key(openai) after Delete = %v, want ErrNoKey", err)
	}
	if err := k3.Delete(ctx, "openai"); !errors.Is(err, gateway.ErrNoKey) {
		t.Errorf("second Delete(openai) = %v, want ErrNoKey", err)
	}
	if _, err := keyring.Get(service, "openai"); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("keyring.Get(%s, openai) after Delete = %v, want ErrNotFound", service, err)
	}
}
