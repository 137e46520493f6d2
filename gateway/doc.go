// Package gateway is Sluice's request path: it routes a caller's request to
// its provider, authenticates it with a local token, estimates and holds its
// worst-case cost, forwards it with the real provider key, relays the answer
// (streams event by event), reads the usage the provider reports, prices it
// and settles the hold with the actual cost.
//
// The package knows nothing of storage or UI. It declares the small
// interfaces it consumes (Ledger, KeySource, TokenSource, AliasSource,
// PromptSource for the prompt endpoint, and the optional Budgeter,
// Extender, Deferrer and SoftWatcher) and the store package satisfies
// them.
//
// # Wire formats
//
// Each wire format Sluice speaks is a dialect, one value in a file of its
// own: openai.go (OpenAI and every OpenAI-compatible provider),
// anthropic.go (Messages) and gemini.go (generateContent). A dialect holds
// what the request path knows of its format, in two parts (dialect.go).
// What the format is, is data, a dialectInfo built once: its name, the
// allow-list of routes and the version segments they live under, where
// its SDKs put a key and where its providers read one, how a key is
// checked, which error codes and words say an account cannot pay, which
// headers carry the provider's request id. What it does is the dialect
// interface's few methods: which paths are its own, what a request body
// says about its cost, the body that goes upstream (a stream asked for
// its usage), where an answer reports its usage (whole, or event by
// event), how an error answer reads, and its error shape and the terminal
// event that cuts a stream. The request path calls the dialect and never
// asks which one it is. A dialect may do more, which the request path
// finds by type assertion and otherwise does without: a promptDialect
// carries a stored prompt (the prompt endpoint); a backgroundDialect runs
// an answer in the background and reads its read-backs (OpenAI's
// Responses API, whose background answers are charged when read back
// finished, background.go).
//
// A provider that speaks an existing format is a row of the provider
// table (provider.go), and what sets one provider apart from another of
// the same format is a column of it (key prefixes and patterns, which
// also say which keys are redacted, model prefixes, the resource path its
// model names come in, the models it resells, its billing page, the
// output-limit member it reads, its ids in the price lists Sluice
// imports) rather than a comparison with its name.
// Translation between formats (translate.go) is another view of the same
// formats, from their content rather than their metering.
//
// # The request path, stage by stage
//
// Proxy.ServeHTTP takes a request through these stages (Proxy.prepare),
// each of which either lets it go on or returns a *failure: the status,
// the kind and the message the caller gets, the cause for the log, and
// the row the request leaves. Proxy.fail is the one way out: it logs the
// cause, records the row and writes the error in the caller's dialect, so
// that the caller's SDK raises its own error type with Sluice's message.
// It is the only writer of an error of Sluice's own, and so the one home
// of the X-Should-Retry rule: the relay's 502s (an answer that broke off
// or could not be translated) and the prompt endpoint's refusals
// (promptcall.go, in its plain JSON shape) leave through it too.
// TestOneWayOut keeps it so: outside Proxy.fail no function shapes an
// error with errorBody (but for a provider's own error, translated),
// calls http.Error or writes a constant status of 400 or more.
//
//  1. Guard (Proxy.guard): the Host must be one Sluice answers for (DNS
//     rebinding), and a browser page (Origin, Sec-Fetch-Site) must be from
//     an allowed origin. The raw path must hold no encoded separator, dot
//     segment or control byte.
//  2. Route (parseRoute): an exact (method, path) of a dialect's allow-list,
//     never a prefix, on the path the dialect claims or under a
//     /{provider}/ prefix. The upstream path is rebuilt from the allow-list
//     entry, never copied from the caller.
//  3. Authenticate (Proxy.authenticate), from the headers and the query
//     alone (wherever a dialect's SDKs put a key: a header, or a query
//     parameter such as Gemini's ?key=), before a byte of the body is
//     read: a local token must be known; a caller's own provider key must
//     be one that may go where the route leads.
//  4. Read the body (Proxy.readBody), capped in size and time, counted
//     against the bytes all requests hold at once.
//  5. Inspect and choose (Proxy.choose): the dialect reads the model, the
//     stream flag and the output bound; the model (or the route) chooses
//     the provider. A model that is an alias (alias.go) stands for its
//     targets, tried in order: stages 5 to 10 are then an attempt, one per
//     target, each held and recorded apart. A provider that speaks another
//     format gets the request translated (Proxy.aim, translate_proxy.go):
//     from then on the route, the reading of the body and the record are
//     the provider's, so the request is held, metered and charged as the
//     provider that serves it, while Sluice answers in the caller's
//     format.
//  6. Key (Proxy.upstreamKey): a local token is swapped for the provider's
//     key; a caller's key goes only to the provider that issued it; no key
//     goes to an address the user has not confirmed.
//  7. The runaway guard (Proxy.runaway): pauses, a token's requests per
//     minute, and loops of identical requests.
//  8. Estimate and hold (Proxy.admit): the worst case the request can cost
//     is held against every budget that applies, durably, before a byte
//     goes upstream; a budget that cannot cover it refuses with 402. A
//     stream may hold its input and a slice of output, and hold more slice
//     by slice as it is relayed (slice.go).
//  9. Forward and relay (Proxy.relay): the answer is passed through as it
//     arrives, a stream read event by event by its dialect's meter and
//     flushed before each read from upstream (the events of one read go
//     out together, none waits for the next); a stream whose next slice
//     a budget refuses, or whose upstream breaks off, is ended with the
//     dialect's own error event. An attempt at an alias's target that
//     fails before a byte has been relayed (429, 5xx, no connection, no
//     headers in time) is recorded and the next target is tried
//     (Proxy.fallBack).
//  10. Settle (Proxy.finish, Proxy.settle): the hold is replaced by the
//     actual cost exactly once, after the answer has gone.
//
// A request refused before admission (stages 1 to 6) is a row with
// outcome blocked and the reason, rate-limited so that a flood cannot fill
// the disk; one refused at 7 or 8 (the runaway guard, a budget, a price a
// budget needs and Sluice lacks) is a row with outcome refused. Either
// costs nothing. A request Sluice cannot serve because of a failure of its
// own is answered 503 and leaves no row: its tokens or keys could not be
// read (stages 3 and 6), the request bodies held at once are at their
// memory limit (4), or the ledger the row would go to could not write the
// hold (8). All but the memory limit log their cause.
//
// # Configuration
//
// A Proxy is configured as ReverseProxy is: by exported fields whose zero
// value is the documented default. HeaderTimeout, IdleTimeout,
// MaxBodyBytes, MaxBodyBytesInFlight and BodyTimeout are left at their
// defaults by Sluice's own server; they stay fields because they are the
// limits whoever serves a Proxy tunes, and the tests set them as such a
// caller would.
//
// # Why not httputil.ReverseProxy
//
// The proxy is built in the image of net/http/httputil.ReverseProxy (a
// Transport, hop-by-hop headers stripped both ways, a body flushed as it
// arrives, configuration as fields whose zero value is the default) but
// not on it. ReverseProxy could relay the bytes: a body wrapped in
// ModifyResponse can count them, hold back an event, append a terminal
// event of its own and end, and an event stream is flushed at once. What
// it cannot give metering is a place for the work around the bytes, and a
// way to say no:
//
//   - Hold more, durably, mid-stream. A sliced hold is extended in the
//     ledger before the next event is written (slice.go); a write that
//     can fail or refuse. Inside ModifyResponse's wrapper it would run in
//     Read, a durable write with no error path back to the handler: a
//     refusal, or a write that failed, could only end the body.
//   - Settle exactly once, after the answer. The cost is known only once
//     the last event has been read, and must be settled whether the
//     stream ended, broke off, was cut or the client went away (charged
//     at least for what was relayed). In ReverseProxy that is the
//     wrapper's Close, again with no error path, and a copy that fails
//     mid-stream reaches no handler (it panics with http.ErrAbortHandler).
//   - Refuse before the request. The hold must be durable before a byte
//     goes upstream, and a refusal (a budget, a key, a route) answered in
//     the caller's dialect with its own headers and row. Rewrite cannot
//     answer a request; it can only change the one that goes upstream.
package gateway
