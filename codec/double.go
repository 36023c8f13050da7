package codec

// Double is a float64 that marshals to JSON by AppendDouble's rule (2.0,
// not 2), for the legacy endpoints' hand-built documents.
type Double float64

// MarshalJSON implements json.Marshaler.
func (d Double) MarshalJSON() ([]byte, error) { return AppendDouble(nil, float64(d)), nil }
