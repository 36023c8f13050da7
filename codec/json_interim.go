package codec

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// MarshalJSON renders m as Mesos does. (Interim: being replaced by the
// Mesos-exact renderer in mesosjson.go.)
func MarshalJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true, UseEnumNumbers: false}.Marshal(m)
}

// UnmarshalJSON parses Mesos JSON into m. (Interim, see MarshalJSON.)
func UnmarshalJSON(data []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, m)
}
