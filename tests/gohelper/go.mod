// The Go oracle helper of the test suite: answers JSON-line questions with golang.org/x/mod.
// Built by scripts/fetch-corpus into .cache/bin/gohelper. Test-only: gomodproxy never runs it.
module example.com/gomodproxy-gohelper

go 1.26.0

require golang.org/x/mod v0.42.0
