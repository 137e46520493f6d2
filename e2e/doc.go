// Package e2e holds Sluice's end-to-end tests: the official provider SDKs
// from npm (openai, @anthropic-ai/sdk, @google/genai) call a real
// `sluice serve` that sits in front of fake upstreams speaking each
// provider's wire format, and the tests check what the SDKs got back, what
// the upstreams received and what the ledger recorded.
//
// The tests need Node.js and the SDKs installed in this directory
// (`npm ci`); without them they skip, except under CI=true, where they
// fail. The package has no code of its own besides its tests.
package e2e
