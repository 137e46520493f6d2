package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// A translatingDialect is a dialect whose requests can be carried to a
// provider of another format, and whose providers' models can be called
// from another format: the optional capability of translation.
type translatingDialect interface {
	dialect
	// callerFormat returns the format requests on rt are read in, or
	// nil for a route whose requests are not translated (embeddings,
	// token counts). q is the request's query.
	callerFormat(rt route, q url.Values) callerFormat
	// targetFormat is the format Sluice calls prov's models in.
	targetFormat(prov Provider) targetFormat
	// targetPath is the path (as the API spells it) and query of a call
	// for model in targetFormat.
	targetPath(model string, stream bool) (path string, q url.Values)
	// targetHeaders adjusts a caller's headers, which go upstream, for
	// a call in targetFormat: what its API requires.
	targetHeaders(h http.Header)
}

// translation is a request Sluice sends to its provider in the
// provider's format rather than the caller's.
type translation struct {
	caller callerFormat
	target targetFormat
	req    *xRequest
	// route is the caller's: what Sluice itself answers is in the
	// caller's words.
	route route
	// query is the query the translated request goes with.
	query url.Values
}

// callerDialect is the dialect Sluice answers x's caller in.
func (x *exchange) callerDialect() dialect {
	if x.xl != nil {
		return x.xl.route.dialect
	}
	return x.route.dialect
}

// aim points x at t, the provider and model that serve it, and returns
// the body to send. A provider that speaks the caller's format gets the
// request as it came; an OpenAI-format request for a provider with an
// OpenAI-compatible endpoint goes there when the policy says so; any
// other is translated into the provider's format, and its route, the
// estimate's reading of its body and its record are the provider's, so
// that it is held, metered and charged as the provider that served it.
func (p *Proxy) aim(r *http.Request, x *exchange, body []byte, t Target, providers map[string]Provider) ([]byte, *failure) {
	rt, d := x.route, x.route.dialect
	x.compat = false
	prov, ok := providers[t.Provider]
	if !ok {
		return nil, fail(http.StatusNotFound, kindNotFound, "unknown provider "+strconvQuote(t.Provider)).blocked(ReasonRoute)
	}
	model, q := t.Model, requestQuery(r)
	if prov.Dialect != d.info().name || !rt.servedBy(prov) {
		caller, target, td := p.translationOf(rt, q, d, prov)
		switch {
		case caller != nil && !(d.info().compatPath(prov) != "" && p.Policy().CompatEndpoints):
			nb, f := p.translate(x, body, caller, target, td, prov, model, q)
			if f != nil {
				return nil, f
			}
			body, rt, q = nb, x.route, x.xl.query
		case d.info().compatPath(prov) != "":
			x.compat = true
		default:
			msg := fmt.Sprintf("provider %s does not speak the %s API", prov.Name, d.info().name)
			if _, ok := d.(translatingDialect); ok && rt.metered() {
				// A token count, an embedding: only generation is
				// translated.
				msg = fmt.Sprintf("%s (model %s) does not speak the %s API, and Sluice translates only requests for an answer, not this one (%s); send it to the provider's own API",
					prov.Name, model, d.info().name, rt.Name)
			}
			return nil, fail(http.StatusNotFound, kindNotFound, msg).blocked(ReasonRoute)
		}
	}
	if x.xl == nil && rt.metered() && rt.Model == "" && model != x.info.Model {
		// The provider spells the model otherwise ("anthropic/claude-…").
		nb, err := setJSONMember(body, rt.dialect.info().modelMember, model)
		if err != nil {
			return nil, fail(http.StatusBadRequest, kindInvalid, "Sluice could not read this request: "+err.Error()).blocked(ReasonRequest)
		}
		body = nb
	}
	x.provider = prov
	x.rec.Provider, x.rec.Model = prov.Name, modelID(prov.Name, model)
	x.rec.Stream = x.info.Stream || rt.Stream
	x.sse = rt.dialect.info().eventStream(rt, x.info, q)
	return body, nil
}

// translationOf returns the formats a request on rt in dialect d takes
// to reach prov, or nils when it cannot be translated.
func (p *Proxy) translationOf(rt route, q url.Values, d dialect, prov Provider) (callerFormat, targetFormat, translatingDialect) {
	from, ok := d.(translatingDialect)
	if !ok || !rt.metered() {
		return nil, nil, nil
	}
	to, ok := dialectNamed(p.dialectList(), prov.Dialect).(translatingDialect)
	if !ok {
		return nil, nil, nil
	}
	caller := from.callerFormat(rt, q)
	if caller == nil {
		return nil, nil, nil
	}
	return caller, to.targetFormat(prov), to
}

// translate turns body, x's request in the caller's format, into a
// request for model at prov in prov's format, and points x's route,
// reading of the body and record at it.
func (p *Proxy) translate(x *exchange, body []byte, caller callerFormat, target targetFormat, td translatingDialect, prov Provider, model string, q url.Values) ([]byte, *failure) {
	refuse := func(err error) *failure {
		var te *translateError
		if errors.As(err, &te) {
			return fail(http.StatusBadRequest, kindInvalid, fmt.Sprintf("Sluice cannot send this request to %s's model %s in %s's format: %s", prov.Name, model, prov.Dialect, te.Error())).blocked(ReasonRequest)
		}
		return fail(http.StatusBadRequest, kindInvalid, "Sluice could not read this request: "+err.Error()).blocked(ReasonRequest)
	}
	req, err := caller.decodeRequest(body)
	if err != nil {
		return nil, refuse(err)
	}
	if x.route.Model != "" {
		// Gemini names the model, and whether it streams, in the path.
		req.Stream = x.route.Stream
	}
	req.Model = model
	if row, ok := p.Prices().Lookup(prov.Name, modelID(prov.Name, model)); ok && row.MaxOutput > 0 {
		// A format that requires a limit (Anthropic's) gets the
		// model's; a limit above it, which the model cannot reach
		// and its API refuses (Claude Code asks every model for
		// 32000), is lowered to it.
		if req.MaxTokens <= 0 || req.MaxTokens > row.MaxOutput {
			req.MaxTokens = row.MaxOutput
		}
	}
	out, err := target.encodeRequest(req)
	if err != nil {
		return nil, refuse(err)
	}
	path, tq := td.targetPath(model, req.Stream)
	nrt, f := parseDialectRoute(td, http.MethodPost, path)
	if f != nil {
		return nil, f
	}
	nrt.Provider = prov.Name
	info, bill, err := inspectRequest(p.dialectList(), td, nrt, out, nil)
	if err != nil {
		return nil, refuse(err)
	}
	x.xl = &translation{caller: caller, target: target, req: req, route: x.route, query: tq}
	x.rec.CallerRoute, x.rec.AskedModel = string(x.route.Name), x.info.Model
	if x.rec.AskedModel == "" && x.in != nil {
		// Gemini's, named in the path as the caller sent it.
		x.rec.AskedModel = x.in.route.Model
	}
	x.route, x.info = nrt, info
	x.billing = bill
	x.rec.Route = string(nrt.Name)
	return out, nil
}
