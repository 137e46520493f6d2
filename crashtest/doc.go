// Package crashtest checks that Sluice's ledger survives kill -9.
//
// Its one test builds the sluice binary, puts a fake OpenAI upstream
// (httptest) behind it, and for several rounds starts `sluice serve` on one
// data directory, fires concurrent chat requests at it (streams and whole
// answers), and kills it with SIGKILL at a random moment: mostly under
// load, sometimes while it is still starting up and charging what the last
// crash left. After each kill, bbolt's consistency check runs over the
// file as the crash left it, and the test counts the holds left open and
// the records charged for earlier crashes: the next start must charge
// every hold the last kill left, or (killed first) leave them all as they
// were. At the end the gateway is started once more, serves a last load,
// and is stopped with SIGTERM; then the test opens the data file and
// checks:
//
//   - every request the fake upstream received is in the ledger: settled
//     (its record carries the upstream's request id) or, when the kill came
//     first, charged at its held amount by the next start (outcome
//     "crashed"); the upstream received no request twice, no upstream
//     request id is recorded twice, and there are no more crashed records
//     than requests that were never settled;
//   - crashed records cost exactly what a request of their shape holds;
//   - no hold is left open, the budget's spend equals the sum of the
//     records' costs, and store.DB.Check (bbolt's consistency check)
//     passes.
//
// A request answered in full can still end up crashed rather than settled:
// the gateway settles just after the last byte reaches the client, and a
// kill can fall in between. It is then charged its hold, never nothing.
//
// Each request carries a unique marker as its OpenAI `user` field; the fake
// upstream answers with the marker as its X-Request-Id (which Sluice
// records as the upstream request id) and as the completion's id, and
// counts every marker it received. Requests carry a provider key of their
// own, which Sluice forwards as it came, so the test needs no keyring and
// never touches the developer's; the gateway runs without a D-Bus session.
//
// SIGKILL ends the process but not the kernel: data written without an
// fsync still reaches the file. A missing fsync shows only on power loss,
// which this test does not simulate.
//
// The test takes several seconds after the build and is skipped under
// -short. It needs a Unix system (SIGKILL, SIGTERM). Run it alone with:
//
//	go test ./crashtest -v
//
// Set SLUICE_CRASH_SEED to a seed the test logged to replay its kill
// moments (the interleaving of requests stays up to the scheduler).
package crashtest
