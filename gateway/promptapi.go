package gateway

import (
	"encoding/json"
	"net/http"
	"sort"
)

// serveOpenAPI answers GET /p/openapi.json: an OpenAPI 3.1 document with
// one operation per prompt, so that HTTP clients and editors can import
// them. It needs no token: it says what the endpoints take, and calling
// one still does.
func (ps *Prompts) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	prompts, err := ps.Source.Prompts(r.Context())
	if err != nil {
		ps.Proxy.fail(w, r, promptShape{}, nil, fail(http.StatusServiceUnavailable, kindUnavailable, "Sluice could not read its prompts: "+err.Error()).because(err))
		return
	}
	doc := openAPI(prompts, "http://"+r.Host)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(doc)
}

// openAPI returns the OpenAPI 3.1 document describing prompts served at
// server.
func openAPI(prompts []Prompt, server string) map[string]any {
	sort.Slice(prompts, func(i, j int) bool { return prompts[i].Name < prompts[j].Name })
	errorSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errorSchema}}}
	}
	paths := map[string]any{}
	for _, p := range prompts {
		inputs := p.Inputs()
		props := map[string]any{}
		example := map[string]any{}
		for _, in := range inputs {
			props[in] = map[string]any{"type": "string"}
			example[in] = "…"
		}
		inSchema := map[string]any{"type": "object", "properties": props, "required": orEmpty(inputs), "additionalProperties": false}
		content := map[string]any{"application/json": map[string]any{"schema": inSchema, "example": example}}
		if len(inputs) == 1 && inputs[0] == "text" {
			content["text/plain"] = map[string]any{"schema": map[string]any{"type": "string"}, "example": "…"}
		}
		var output any = map[string]any{"type": "string", "description": "the model's text"}
		var outExample any = "…"
		if len(p.Schema) > 0 {
			output = json.RawMessage(p.Schema)
			outExample = map[string]any{}
		}
		answerExample := map[string]any{"output": outExample, "model": p.Model,
			"usage":    map[string]any{"input_tokens": 120, "output_tokens": 40, "cached_input_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0},
			"cost_usd": "0.000042", "id": "…", "prompt": p.Name, "version": p.Version}
		answer := map[string]any{
			"type":     "object",
			"required": []string{"output", "model", "usage", "cost_usd"},
			"properties": map[string]any{
				"output":   output,
				"model":    map[string]any{"type": "string"},
				"usage":    map[string]any{"$ref": "#/components/schemas/Usage"},
				"cost_usd": map[string]any{"type": "string", "description": "exact dollars, as a decimal string"},
				"id":       map[string]any{"type": "string", "description": "the request's ID in Sluice's log"},
				"prompt":   map[string]any{"type": "string"},
				"version":  map[string]any{"type": "integer"},
			},
		}
		desc := "Sends the prompt to " + p.Model + " with the inputs filled in."
		if p.System != "" {
			desc += "\n\nSystem: " + p.System
		}
		desc += "\n\nTemplate: " + p.Template
		paths[PromptPrefix+p.Name] = map[string]any{
			"post": map[string]any{
				"operationId": "prompt_" + p.Name,
				"summary":     p.Name + " (" + p.Model + ")",
				"description": desc,
				"parameters": []any{map[string]any{
					"name": "stream", "in": "query", "required": false,
					"description": "true: answer as server-sent events: delta events ({\"text\"}), then done (the answer) or error",
					"schema":      map[string]any{"type": "boolean", "default": false},
				}},
				"requestBody": map[string]any{"required": true, "content": content},
				"responses": map[string]any{
					"200": map[string]any{"description": "the model's answer", "content": map[string]any{
						"application/json":  map[string]any{"schema": answer, "example": answerExample},
						"text/event-stream": map[string]any{"schema": map[string]any{"type": "string"}},
					}},
					"400": errResp("an input is missing or not the prompt's"),
					"401": errResp("no local token, or an unknown one"),
					"402": errResp("a budget would be exceeded"),
					"404": errResp("no such prompt"),
					"502": errResp("the provider failed, or the output does not fit the schema"),
				},
			},
		}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Sluice prompts",
			"version":     "1",
			"description": "Prompts saved in Sluice, each an endpoint. Authenticate with a local token (sluice token new NAME).",
		},
		"servers":  []any{map[string]any{"url": server}},
		"security": []any{map[string]any{"localToken": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"localToken": map[string]any{"type": "http", "scheme": "bearer", "description": "a Sluice local token, sk-sluice-…"}},
			"schemas": map[string]any{
				"Usage": map[string]any{"type": "object", "properties": map[string]any{
					"input_tokens": map[string]any{"type": "integer"}, "output_tokens": map[string]any{"type": "integer"},
					"cached_input_tokens": map[string]any{"type": "integer"}, "cache_write_tokens": map[string]any{"type": "integer"},
					"reasoning_tokens": map[string]any{"type": "integer"},
				}},
				"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
					"error": map[string]any{"type": "object", "required": []string{"type", "message"}, "properties": map[string]any{
						"type": map[string]any{"type": "string"}, "message": map[string]any{"type": "string"},
						"budget": map[string]any{"type": "string"}, "output": map[string]any{"type": "string"},
						"id": map[string]any{"type": "string"},
					}},
				}},
			},
		},
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
