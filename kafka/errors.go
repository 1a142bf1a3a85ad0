package kafka

import "errors"

// Sentinel errors returned (wrapped) by this package.
var (
	// ErrNoBrokers means a Config names no broker.
	ErrNoBrokers = errors.New("no brokers given")
	// ErrUnreachable means no broker could be reached: the connection was
	// refused, failed, or nothing answered within the dial timeout.
	ErrUnreachable = errors.New("kafka brokers unreachable")
	// ErrConfig means the Kafka settings are wrong before any broker is
	// asked: brokers, TLS files, SASL mechanism or credentials.
	ErrConfig = errors.New("kafka configuration")
	// ErrAuth means a broker answered but refused the SASL credentials.
	ErrAuth = errors.New("kafka authentication failed")
)
