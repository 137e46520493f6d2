//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// loadResult is what one load run measured, printed as JSON.
type loadResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50      float64 `json:"p50_us"` // whole answer
	P99      float64 `json:"p99_us"`
	TTFB50   float64 `json:"ttfb50_us"` // first body byte
	TTFB99   float64 `json:"ttfb99_us"`
	// CPU is the load generator's own CPU use over the run, in cores: near
	// 1 on one core means the figures measure the load, not the target.
	CPU float64 `json:"cpu"`
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// chatBody is a chat request whose question carries this run's tag and
// n, so that no two requests are the same, in one run or in the next
// against the same gateway (Sluice's loop guard refuses a client that
// keeps sending one request).
func chatBody(stream bool, user string, n int64) []byte {
	b := `{"model":"gpt-4o-mini","max_tokens":256,"temperature":0.2,` +
		`"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello and offer help in one sentence. (` +
		runTag + " " + strconv.FormatInt(n, 10) + `)"}]`
	if stream {
		b += `,"stream":true,"stream_options":{"include_usage":true}`
	}
	if user != "" {
		b += `,"user":"` + user + `"`
	}
	return []byte(b + "}")
}

// runLoad drives chat completions at -url with -conns connections for
// -dur after -warm, and prints a loadResult. With -hold N it instead opens
// N streams that the fake upstream keeps open, prints "ready" once each
// has its first event, and prints a loadResult when all have ended.
func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	target := fs.String("url", "", "base URL (…/v1/chat/completions is appended)")
	key := fs.String("key", "sk-bench-upstream", "API key or local token to send")
	conns := fs.Int("conns", 1, "connections, each with one request in flight")
	dur := fs.Duration("dur", 3*time.Second, "measured duration")
	warm := fs.Duration("warm", 300*time.Millisecond, "unmeasured warm-up")
	stream := fs.Bool("stream", false, "ask for SSE streams")
	hold := fs.Int("hold", 0, "open this many held streams instead")
	fs.Parse(args)
	url := *target + "/v1/chat/completions"
	tr := &http.Transport{MaxIdleConnsPerHost: max(*conns, *hold), MaxConnsPerHost: max(*conns, *hold), DisableCompression: true}
	client := &http.Client{Transport: tr}
	if *hold > 0 {
		return holdStreams(client, url, *key, *hold)
	}

	var seq atomic.Int64
	var (
		mu      sync.Mutex
		lat     []time.Duration
		ttfb    []time.Duration
		errs    int
		firstEr error
	)
	run := func(d time.Duration, keep bool) time.Duration {
		start := time.Now()
		deadline := start.Add(d)
		var wg sync.WaitGroup
		for range *conns {
			wg.Go(func() {
				var l, t []time.Duration
				var e int
				var fe error
				buf := make([]byte, 32<<10)
				for time.Now().Before(deadline) {
					body := chatBody(*stream, "", seq.Add(1))
					d, first, err := one(client, url, *key, body, *stream, buf)
					if err != nil {
						e++
						if fe == nil {
							fe = err
						}
						continue
					}
					l = append(l, d)
					t = append(t, first)
				}
				if !keep {
					return
				}
				mu.Lock()
				lat = append(lat, l...)
				ttfb = append(ttfb, t...)
				errs += e
				if firstEr == nil {
					firstEr = fe
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	run(*warm, false)
	cpu0 := selfCPU()
	elapsed := run(*dur, true)
	res := summarize(lat, ttfb, elapsed)
	res.CPU = float64(selfCPU()-cpu0) / float64(elapsed)
	res.Errors = errs
	if firstEr != nil {
		res.FirstErr = firstEr.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func summarize(lat, ttfb []time.Duration, elapsed time.Duration) loadResult {
	slices.Sort(lat)
	slices.Sort(ttfb)
	pct := func(s []time.Duration, p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		return float64(s[int(float64(len(s)-1)*p)].Microseconds())
	}
	return loadResult{
		Requests: len(lat),
		Seconds:  elapsed.Seconds(),
		RPS:      float64(len(lat)) / elapsed.Seconds(),
		P50:      pct(lat, 0.50),
		P99:      pct(lat, 0.99),
		TTFB50:   pct(ttfb, 0.50),
		TTFB99:   pct(ttfb, 0.99),
	}
}

// one makes one request and reads the whole answer, checking it is the
// fake's: usage in a JSON answer, [DONE] at the end of a stream.
func one(client *http.Client, url, key string, body []byte, stream bool, buf []byte) (total, first time.Duration, err error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var got []byte
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if first == 0 {
				first = time.Since(start)
			}
			got = append(got, buf[:n]...)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return 0, 0, rerr
		}
	}
	total = time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %d: %.300s", resp.StatusCode, got)
	}
	if stream && !bytes.HasSuffix(got, []byte(fakeDone)) || !stream && !bytes.Contains(got, []byte(`"usage"`)) {
		return 0, 0, fmt.Errorf("unexpected answer: %.300s", got)
	}
	return total, first, nil
}

// holdStreams opens n streams the fake holds open, says "ready" when all
// have their first event, then reads each to its end.
func holdStreams(client *http.Client, url, key string, n int) error {
	var seq atomic.Int64
	var (
		opened sync.WaitGroup
		done   sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		lat    []time.Duration
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	start := time.Now()
	for range n {
		opened.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			once := sync.OnceFunc(opened.Done)
			defer once()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(chatBody(true, "hold", seq.Add(1))))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if _, err := br.ReadSlice('\n'); err != nil {
				fail(err)
				return
			}
			once()
			rest, err := io.ReadAll(br)
			if err == nil && !bytes.HasSuffix(rest, []byte(fakeDone)) {
				err = errors.New("held stream ended without [DONE]")
			}
			if err != nil {
				fail(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		}()
	}
	opened.Wait()
	fmt.Println("ready")
	done.Wait()
	res := summarize(lat, nil, time.Since(start))
	res.Errors = len(errs)
	if len(errs) > 0 {
		res.FirstErr = errs[0].Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// runTag tells this run's requests from an earlier run's: the clock's
// nanoseconds in letters from g to z. The loop guard's fingerprint
// disregards what looks like a Unix time or a hex id (long runs of
// digits or hex digits), so neither would do.
var runTag = func() string {
	var b []byte
	for x := uint64(time.Now().UnixNano()); x > 0; x /= 20 {
		b = append(b, 'g'+byte(x%20))
	}
	return string(b)
}()
