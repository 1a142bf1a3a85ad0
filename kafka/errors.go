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
	// ErrGroupRefused means the group coordinator refuses this process as
	// a member for good: session timeout out of the brokers' bounds, a
	// group used by clients of another kind, or no authorisation.
	ErrGroupRefused = errors.New("group membership refused")

	// The kinds of ErrUnreachable that a caller may explain differently;
	// an error of one of these kinds also wraps ErrUnreachable, and its
	// message is the ErrUnreachable one.

	// ErrRefused means the brokers refused the connection.
	ErrRefused = errors.New("connection refused")
	// ErrTimeout means nothing answered within the dial timeout.
	ErrTimeout = errors.New("no answer within the dial timeout")
	// ErrTLS means the TLS handshake failed.
	ErrTLS = errors.New("TLS handshake failed")
)

// kindError marks err as being of kind without changing its message.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// kindOf returns err marked as being of kind: errors.Is(err, kind) holds.
func kindOf(kind, err error) error { return &kindError{kind: kind, err: err} }
