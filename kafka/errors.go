package kafka

import "errors"

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrNoBrokers means a Config names no broker.
	ErrNoBrokers = errors.New("no brokers given")
	// ErrUnreachable means no broker answered within the dial timeout.
	ErrUnreachable = errors.New("kafka brokers unreachable")
)
