// Package flow is the machinery around the exchange use case, not the use
// case itself: what holds the service up under load and keeps it honest
// across time. It puts exchanges in arrival order (Admission, SignQueue),
// serves repeats of one session from memory (ExchangeCache), refuses the
// results for removed users (RemovalGate, MemoryRemoved), applies rate
// limits once the user is known (LimitUsers, LimitExchanges), runs
// lifecycle jobs on one instance (MemoryQueue), holds background work to
// a rate (ThrottledAccounts) and remembers look-ups (NewMemo). Each piece
// wraps a bridge interface and offers the same one, so cmd/bridge stacks
// them; package bridge knows none of them.
package flow
