package codec

// Mesos-style JSON for any protobuf message, by walking protoreflect.
//
// Rendering follows stout's JSON::protobuf as used by Mesos 1.x:
//
//   - keys are the proto field names (snake_case), in declaration order;
//   - a singular field is rendered when it is set, or when it is unset but
//     has an explicit default in the .proto and is not deprecated (so an
//     unset Filters.refuse_seconds renders as 5.0); repeated and map fields
//     are rendered when non-empty;
//   - enums by name; a number the enum does not define renders as a number
//     (Go keeps such numbers in proto2 fields where C++ would move them to
//     the unknown fields, so Mesos never meets this case);
//   - bytes as standard, padded base64;
//   - every integer type as a plain JSON number;
//   - doubles and floats as rapidjson writes them: the shortest form that
//     reads back exactly, always with a decimal point or an exponent
//     (15.0, 0.1, 23081.0, 1e21); NaN and the infinities, which JSON cannot
//     express, as the strings "NaN", "Infinity" and "-Infinity";
//   - maps as objects keyed by the key's string form, keys sorted;
//   - compact output, strings escaped like rapidjson (", \, control
//     characters; '/' and non-ASCII are written as they are).
//
// Parsing follows stout's protobuf::parse; see UnmarshalJSON.

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// ---------------------------------------------------------------------------
// Per-message plans, computed once per message type.

type fieldPlan struct {
	fd protoreflect.FieldDescriptor
	// key is the rendered `"name":` prefix.
	key []byte
	// renderDefault: an unset value is rendered with its explicit default.
	renderDefault bool
	// sub caches the plan of the field's message type (or of its map
	// value's message type), resolved on first use.
	sub atomic.Pointer[messagePlan]
}

func (f *fieldPlan) subPlan() *messagePlan {
	if p := f.sub.Load(); p != nil {
		return p
	}
	md := f.fd.Message()
	if f.fd.IsMap() {
		md = f.fd.MapValue().Message()
	}
	p := planFor(md)
	f.sub.Store(p)
	return p
}

type messagePlan struct {
	fields []fieldPlan
	// required lists the required fields, in declaration order.
	required []protoreflect.FieldDescriptor
	// nested lists the message-typed fields (singular, repeated, or maps
	// with message values), in declaration order.
	nested []protoreflect.FieldDescriptor
}

var plans sync.Map // protoreflect.MessageDescriptor -> *messagePlan

func planFor(md protoreflect.MessageDescriptor) *messagePlan {
	if p, ok := plans.Load(md); ok {
		return p.(*messagePlan)
	}
	fds := md.Fields()
	p := &messagePlan{fields: make([]fieldPlan, fds.Len())}
	for i := range fds.Len() {
		fd := fds.Get(i)
		key := AppendString(nil, string(fd.Name()))
		key = append(key, ':')
		f := &p.fields[i]
		f.fd = fd
		f.key = key
		f.renderDefault = !fd.IsList() && !fd.IsMap() && fd.HasDefault() && !isDeprecated(fd)
		if fd.Cardinality() == protoreflect.Required {
			p.required = append(p.required, fd)
		}
		switch {
		case fd.IsMap():
			if isMessageKind(fd.MapValue().Kind()) {
				p.nested = append(p.nested, fd)
			}
		case isMessageKind(fd.Kind()):
			p.nested = append(p.nested, fd)
		}
	}
	actual, _ := plans.LoadOrStore(md, p)
	return actual.(*messagePlan)
}

func isDeprecated(fd protoreflect.FieldDescriptor) bool {
	opts, ok := fd.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetDeprecated()
}

func isMessageKind(k protoreflect.Kind) bool {
	return k == protoreflect.MessageKind || k == protoreflect.GroupKind
}

// ---------------------------------------------------------------------------
// Rendering.

// MarshalJSON renders m as Mesos does (stout's JSON::protobuf); see the top
// of this file for the rules. A nil message renders as {}.
func MarshalJSON(m proto.Message) ([]byte, error) {
	if m == nil {
		return []byte("{}"), nil
	}
	bp := bufPool.Get().(*[]byte)
	r := m.ProtoReflect()
	var b []byte
	if r.IsValid() {
		b = appendMessage((*bp)[:0], r, planFor(r.Descriptor()))
	} else {
		b = append((*bp)[:0], "{}"...)
	}
	out := bytes.Clone(b)
	if cap(b) <= maxPooledBuf {
		*bp = b
		bufPool.Put(bp)
	}
	return out, nil
}

// Rendering buffers are reused, so that a render costs one allocation for
// its result rather than a series of growing buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuf = 1 << 20

// appendMessage renders m, whose plan is p.
func appendMessage(b []byte, m protoreflect.Message, p *messagePlan) []byte {
	b = append(b, '{')
	if !m.IsValid() { // a nil message in a list or map
		return append(b, '}')
	}
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		if !m.Has(f.fd) && !f.renderDefault {
			continue
		}
		// For an unset field with a default, Get returns the default.
		v := m.Get(f.fd)
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		switch {
		case f.fd.IsMap():
			b = appendMap(b, f, v.Map())
		case f.fd.IsList():
			l := v.List()
			b = append(b, '[')
			for j := range l.Len() {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendSingular(b, f.fd, l.Get(j), f)
			}
			b = append(b, ']')
		default:
			b = appendSingular(b, f.fd, v, f)
		}
	}
	return append(b, '}')
}

// appendSingular renders one value of fd's kind (a singular field's value,
// a list element or a map value) of the field planned by f.
func appendSingular(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, f *fieldPlan) []byte {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.AppendInt(b, v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		// Floats are widened to double before printing, as stout does.
		return AppendDouble(b, v.Float())
	case protoreflect.StringKind:
		return AppendString(b, v.String())
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"')
	case protoreflect.EnumKind:
		n := v.Enum()
		if ev := fd.Enum().Values().ByNumber(n); ev != nil {
			return AppendString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(n), 10)
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(b, v.Message(), f.subPlan())
	}
	return append(b, "null"...)
}

func appendMap(b []byte, f *fieldPlan, mp protoreflect.Map) []byte {
	fd := f.fd
	keys := make([]protoreflect.MapKey, 0, mp.Len())
	mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	switch fd.MapKey().Kind() {
	case protoreflect.StringKind:
		slices.SortFunc(keys, func(x, y protoreflect.MapKey) int { return strings.Compare(x.String(), y.String()) })
	case protoreflect.BoolKind:
		slices.SortFunc(keys, func(x, y protoreflect.MapKey) int {
			xb, yb := x.Bool(), y.Bool()
			switch {
			case xb == yb:
				return 0
			case !xb:
				return -1
			}
			return 1
		})
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		slices.SortFunc(keys, func(x, y protoreflect.MapKey) int { return cmp.Compare(x.Uint(), y.Uint()) })
	default: // signed integers
		slices.SortFunc(keys, func(x, y protoreflect.MapKey) int { return cmp.Compare(x.Int(), y.Int()) })
	}
	vfd := fd.MapValue()
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		// MapKey.String gives the decimal form of integers and
		// "true"/"false" for booleans: the string form stout uses.
		b = AppendString(b, k.String())
		b = append(b, ':')
		b = appendSingular(b, vfd, mp.Get(k), f)
	}
	return append(b, '}')
}

// AppendDouble writes f the way rapidjson's Writer::Double (and so Mesos)
// does: the shortest digits that read back as f, laid out so that integral
// values keep a ".0" and exponents ("1e21", "1.25e-7") are used only below
// 1e-6 and from 1e21 up. This is the one rule for doubles on every Gomesos
// JSON surface: protobuf JSON, the legacy state endpoints and metrics.
// JSON has no literal for NaN and the infinities (Mesos writes broken
// JSON for them); they are written as the protobuf JSON mapping's strings
// "NaN", "Infinity" and "-Infinity".
func AppendDouble(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest round-trip digits in the form d.ddde±xx.
	var scratch [32]byte
	e := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64)
	ep := bytes.IndexByte(e, 'e')
	exp := 0
	for _, c := range e[ep+2:] { // after the exponent's sign
		exp = exp*10 + int(c-'0')
	}
	if e[ep+1] == '-' {
		exp = -exp
	}
	var digitBuf [24]byte
	digits := append(digitBuf[:0], e[0])
	if ep > 1 {
		digits = append(digits, e[2:ep]...)
	}
	n := len(digits)
	kk := exp + 1 // 10^(kk-1) <= f < 10^kk
	k := kk - n   // f = digits * 10^k
	switch {
	case k >= 0 && kk <= 21: // 1234e7 -> 12340000000.0
		b = append(b, digits...)
		for range k {
			b = append(b, '0')
		}
		return append(b, ".0"...)
	case kk > 0 && kk <= 21: // 1234e-2 -> 12.34
		b = append(b, digits[:kk]...)
		b = append(b, '.')
		return append(b, digits[kk:]...)
	case kk > -6 && kk <= 0: // 1234e-6 -> 0.001234
		b = append(b, "0."...)
		for range -kk {
			b = append(b, '0')
		}
		return append(b, digits...)
	case n == 1: // 1e30
		b = append(b, digits[0], 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	default: // 1234e30 -> 1.234e33
		b = append(b, digits[0], '.')
		b = append(b, digits[1:]...)
		b = append(b, 'e')
		return strconv.AppendInt(b, int64(kk-1), 10)
	}
}

const hexDigits = "0123456789ABCDEF"

// AppendString writes s as a JSON string, escaping as rapidjson does:
// '"', '\\' and control characters (with \b \f \n \r \t where they exist,
// else \u00XX). Everything else, '/' and non-ASCII included, is written as
// is; bytes that are not valid UTF-8 become U+FFFD so the output is always
// valid JSON.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---------------------------------------------------------------------------
// Parsing.

// ErrInvalidJSON marks an UnmarshalJSON error caused by a body that is not
// JSON at all (Mesos answers "Failed to parse body into JSON: ..."), as
// opposed to JSON that does not convert into the message ("Failed to
// convert JSON into Call protobuf: ..."). Such an error's text is only the
// syntax problem, for the caller to prefix with its own words.
var ErrInvalidJSON = errors.New("invalid JSON")

// syntaxError is an UnmarshalJSON error for a body that is not JSON.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string        { return e.msg }
func (e *syntaxError) Is(target error) bool { return target == ErrInvalidJSON }

// UnmarshalJSON parses Mesos-style JSON into m (after resetting it), the way
// stout's protobuf::parse does:
//
//   - the body must be one JSON object; keys are proto field names, and
//     unknown keys are ignored; null means "not set";
//   - enums only by name; a name the enum does not define is an error for a
//     required field and is dropped otherwise;
//   - numeric fields take a number or a string holding one ("5", "1e3");
//     double and float also take "NaN", "Inf"/"Infinity" and their negatives
//     in a string; integers must be integral and in range, 64-bit values
//     are exact;
//   - booleans take true/false or "true"/"false";
//   - bytes take standard base64, padded or not, whitespace ignored;
//   - a JSON array is accepted only for repeated and map fields; as in
//     stout a single value for a repeated field counts as a one-element
//     list, and nested arrays are flattened;
//   - maps take an object whose keys are parsed as the key type;
//   - finally every required field must be present; the error lists the
//     missing ones by path, e.g. "missing required fields:
//     subscribe.framework_info.user".
//
// Errors say what is wrong and where, e.g. `field "offer_ids[0].value":
// expected a string, got a JSON number`. A body that is not JSON gives an
// error matching ErrInvalidJSON (errors.Is).
func UnmarshalJSON(data []byte, m proto.Message) error {
	proto.Reset(m)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if err == io.EOF {
			return &syntaxError{"empty body"}
		}
		return &syntaxError{err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &syntaxError{"unexpected data after the top-level value"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("expected a JSON object, got %s", describeJSON(v))
	}
	if err := parseObject(m.ProtoReflect(), obj); err != nil {
		return err
	}
	return checkRequired(m)
}

// checkRequired returns an error listing, by path, every required field
// missing in m or in any message nested in it.
func checkRequired(m proto.Message) error {
	if proto.CheckInitialized(m) == nil {
		return nil
	}
	missing := missingRequired(m.ProtoReflect(), "", nil)
	if len(missing) == 0 {
		// Unreachable unless CheckInitialized knows something we do not
		// (extensions); report what it said.
		return proto.CheckInitialized(m)
	}
	return fmt.Errorf("missing required fields: %s", strings.Join(missing, ", "))
}

func missingRequired(m protoreflect.Message, prefix string, out []string) []string {
	p := planFor(m.Descriptor())
	for _, fd := range p.required {
		if !m.Has(fd) {
			out = append(out, prefix+string(fd.Name()))
		}
	}
	for _, fd := range p.nested {
		if !m.Has(fd) {
			continue
		}
		name := prefix + string(fd.Name())
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				out = missingRequired(mv.Message(), name+"["+k.String()+"].", out)
				return true
			})
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				out = missingRequired(l.Get(i).Message(), name+"["+strconv.Itoa(i)+"].", out)
			}
		default:
			out = missingRequired(v.Message(), name+".", out)
		}
	}
	return out
}

// fieldError is a conversion error at a path inside the message. The path
// is collected in reverse while the error travels up.
type fieldError struct {
	rpath []string // innermost segment first; index segments start with '['
	msg   string
}

func (e *fieldError) Error() string {
	var sb strings.Builder
	sb.WriteString("field \"")
	for i := len(e.rpath) - 1; i >= 0; i-- {
		seg := e.rpath[i]
		if i < len(e.rpath)-1 && seg[0] != '[' {
			sb.WriteByte('.')
		}
		sb.WriteString(seg)
	}
	sb.WriteString("\": ")
	sb.WriteString(e.msg)
	return sb.String()
}

// within prefixes the path of err (a *fieldError) with seg.
func within(err error, seg string) error {
	if fe, ok := err.(*fieldError); ok {
		fe.rpath = append(fe.rpath, seg)
	}
	return err
}

func fieldErrorf(format string, args ...any) error {
	return &fieldError{msg: fmt.Sprintf(format, args...)}
}

func parseObject(m protoreflect.Message, obj map[string]any) error {
	if len(obj) == 0 {
		return nil
	}
	fields := m.Descriptor().Fields()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	// Like stout's std::map-backed objects, visit keys in sorted order, so
	// that the first error reported does not depend on map iteration.
	slices.Sort(keys)
	for _, k := range keys {
		fd := fields.ByName(protoreflect.Name(k))
		if fd == nil {
			continue // unknown keys are ignored
		}
		if err := parseField(m, fd, obj[k]); err != nil {
			return within(err, k)
		}
	}
	return nil
}

// parseField applies one JSON value to field fd of m. For repeated fields
// it appends; arrays are flattened into repeated fields.
func parseField(m protoreflect.Message, fd protoreflect.FieldDescriptor, v any) error {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		if !fd.IsList() && !fd.IsMap() {
			return fieldErrorf("not expecting a JSON array: the field is not repeated")
		}
		for i, e := range v {
			if err := parseField(m, fd, e); err != nil {
				return within(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return fieldErrorf("expected a JSON object (a map), got %s", describeJSON(v))
		}
		return parseMap(m.Mutable(fd).Map(), fd, obj)
	case isMessageKind(fd.Kind()):
		if str, isStr := v.(string); isStr && !fd.IsList() && fd.Message().FullName() == "google.protobuf.Duration" {
			return parseDurationField(m, fd, str)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return fieldErrorf("expected a JSON object (%s), got %s", fd.Message().FullName(), describeJSON(v))
		}
		if fd.IsList() {
			l := m.Mutable(fd).List()
			e := l.NewElement()
			if err := parseObject(e.Message(), obj); err != nil {
				return err // the enclosing array adds the index
			}
			l.Append(e)
			return nil
		}
		return parseObject(m.Mutable(fd).Message(), obj)
	}
	val, keep, err := parseScalar(fd, v, 0)
	if err != nil || !keep {
		return err
	}
	if fd.IsList() {
		m.Mutable(fd).List().Append(val)
	} else {
		m.Set(fd, val)
	}
	return nil
}

func parseMap(mp protoreflect.Map, fd protoreflect.FieldDescriptor, obj map[string]any) error {
	kfd, vfd := fd.MapKey(), fd.MapValue()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kv, _, err := parseScalar(kfd, k, 0)
		if err != nil {
			if fe, ok := err.(*fieldError); ok {
				fe.msg = "bad map key: " + fe.msg
			}
			return within(err, "["+k+"]")
		}
		mk := kv.MapKey()
		raw := obj[k]
		if isMessageKind(vfd.Kind()) {
			val := mp.NewValue()
			if raw != nil {
				sub, ok := raw.(map[string]any)
				if !ok {
					return within(fieldErrorf("expected a JSON object (%s), got %s", vfd.Message().FullName(), describeJSON(raw)), "["+k+"]")
				}
				if err := parseObject(val.Message(), sub); err != nil {
					return within(err, "["+k+"]")
				}
			}
			mp.Set(mk, val)
			continue
		}
		// A null or dropped (unknown enum) value leaves the entry with the
		// value's default, as a map entry without a value does in protobuf.
		val := vfd.Default()
		if raw != nil {
			if _, isArr := raw.([]any); isArr {
				return within(fieldErrorf("not expecting a JSON array as a map value"), "["+k+"]")
			}
			pv, keep, err := parseScalar(vfd, raw, 0)
			if err != nil {
				return within(err, "["+k+"]")
			}
			if keep {
				val = pv
			}
		}
		mp.Set(mk, val)
	}
	return nil
}

// specialFloat is NaN or ±Inf spelled in a string ("NaN", "Infinity").
type specialFloat float64

// parseScalar converts a JSON value (string, json.Number, bool, or
// specialFloat) into a value of fd's non-message kind. keep is false when
// the value is to be dropped (an unknown name for an optional enum).
func parseScalar(fd protoreflect.FieldDescriptor, v any, depth int) (val protoreflect.Value, keep bool, err error) {
	kind := fd.Kind()
	switch v := v.(type) {
	case string:
		switch kind {
		case protoreflect.StringKind:
			return protoreflect.ValueOfString(v), true, nil
		case protoreflect.BytesKind:
			b, err := decodeBase64(v)
			if err != nil {
				return val, false, fieldErrorf("invalid base64: %v", err)
			}
			return protoreflect.ValueOfBytes(b), true, nil
		case protoreflect.EnumKind:
			ev := fd.Enum().Values().ByName(protoreflect.Name(v))
			if ev == nil {
				if fd.Cardinality() == protoreflect.Required {
					return val, false, fieldErrorf("unknown value %q for enum %s", v, fd.Enum().FullName())
				}
				return val, false, nil // proto2: an unknown enum value is dropped
			}
			return protoreflect.ValueOfEnum(ev.Number()), true, nil
		}
		// A number or boolean in a string: parse the string as JSON, as
		// stout does, and convert what it holds.
		inner, err := parseInnerJSON(v, kind)
		if err != nil {
			return val, false, err
		}
		if depth > 8 {
			return val, false, fieldErrorf("cannot parse %s as %s", strconv.Quote(v), describeKind(fd))
		}
		return parseScalar(fd, inner, depth+1)
	case json.Number:
		return parseNumber(fd, string(v))
	case specialFloat:
		switch kind {
		case protoreflect.DoubleKind:
			return protoreflect.ValueOfFloat64(float64(v)), true, nil
		case protoreflect.FloatKind:
			return protoreflect.ValueOfFloat32(float32(v)), true, nil
		}
		return val, false, fieldErrorf("expected %s, got %v", describeKind(fd), float64(v))
	case bool:
		if kind == protoreflect.BoolKind {
			return protoreflect.ValueOfBool(v), true, nil
		}
	}
	return val, false, fieldErrorf("expected %s, got %s", describeKind(fd), describeJSON(v))
}

// parseInnerJSON parses the content of a JSON string given for a numeric or
// boolean field.
func parseInnerJSON(s string, kind protoreflect.Kind) (any, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	switch strings.TrimPrefix(t, "-") {
	case "NaN":
		return specialFloat(math.NaN()), nil
	case "Inf", "Infinity":
		if neg {
			return specialFloat(math.Inf(-1)), nil
		}
		return specialFloat(math.Inf(1)), nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var inner any
	err := dec.Decode(&inner)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		what := "a number"
		if kind == protoreflect.BoolKind {
			what = "a boolean"
		}
		return nil, fieldErrorf("cannot parse %s as %s", strconv.Quote(s), what)
	}
	switch inner.(type) {
	case map[string]any, []any, nil:
		return nil, fieldErrorf("cannot parse %s as a scalar", strconv.Quote(s))
	}
	return inner, nil
}

// parseNumber converts the JSON number literal s for a field of fd's kind.
func parseNumber(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, bool, error) {
	var zero protoreflect.Value
	switch fd.Kind() {
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && math.IsInf(f, 0) {
			return zero, false, fieldErrorf("value %s is out of range for double", s)
		}
		return protoreflect.ValueOfFloat64(f), true, nil
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil && math.IsInf(f, 0) {
			return zero, false, fieldErrorf("value %s is out of range for float", s)
		}
		return protoreflect.ValueOfFloat32(float32(f)), true, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := parseIntLiteral(s, 32)
		if err != nil {
			return zero, false, fieldErrorf("value %s %v (%s)", s, err, fd.Kind())
		}
		return protoreflect.ValueOfInt32(int32(n)), true, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := parseIntLiteral(s, 64)
		if err != nil {
			return zero, false, fieldErrorf("value %s %v (%s)", s, err, fd.Kind())
		}
		return protoreflect.ValueOfInt64(n), true, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := parseUintLiteral(s, 32)
		if err != nil {
			return zero, false, fieldErrorf("value %s %v (%s)", s, err, fd.Kind())
		}
		return protoreflect.ValueOfUint32(uint32(n)), true, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := parseUintLiteral(s, 64)
		if err != nil {
			return zero, false, fieldErrorf("value %s %v (%s)", s, err, fd.Kind())
		}
		return protoreflect.ValueOfUint64(n), true, nil
	}
	return zero, false, fieldErrorf("expected %s, got a JSON number", describeKind(fd))
}

var (
	errNotInteger = errors.New("is not an integer")
	errOutOfRange = errors.New("is out of range")
)

// splitIntLiteral reduces a JSON number literal that denotes an integer to
// its sign and magnitude, exactly: "-12.50e1" is -125, "1.5" is not an
// integer, and magnitudes past 2^64-1 are out of range.
func splitIntLiteral(s string) (neg bool, mag uint64, err error) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	mant, expStr, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return false, 0, nil // zero, whatever the exponent
	}
	exp := -len(frac)
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	if hasExp {
		e, perr := strconv.Atoi(strings.TrimPrefix(expStr, "+"))
		if perr != nil { // an exponent too large for an int
			if strings.HasPrefix(expStr, "-") {
				return false, 0, errNotInteger
			}
			return false, 0, errOutOfRange
		}
		// Keep exp from overflowing; any such exponent is far out of range.
		if e > 1<<30 {
			return false, 0, errOutOfRange
		}
		if e < -(1 << 30) {
			return false, 0, errNotInteger
		}
		exp += e
	}
	if exp < 0 {
		return false, 0, errNotInteger
	}
	if len(digits)+exp > 20 {
		return false, 0, errOutOfRange
	}
	mag, perr := strconv.ParseUint(digits+strings.Repeat("0", exp), 10, 64)
	if perr != nil {
		return false, 0, errOutOfRange
	}
	return neg, mag, nil
}

func parseIntLiteral(s string, bits int) (int64, error) {
	neg, mag, err := splitIntLiteral(s)
	if err != nil {
		return 0, err
	}
	limit := uint64(1) << (bits - 1) // |min|; max is limit-1
	if neg {
		if mag > limit {
			return 0, errOutOfRange
		}
		return int64(-mag), nil // two's complement: -limit wraps correctly
	}
	if mag >= limit {
		return 0, errOutOfRange
	}
	return int64(mag), nil
}

func parseUintLiteral(s string, bits int) (uint64, error) {
	neg, mag, err := splitIntLiteral(s)
	if err != nil {
		return 0, err
	}
	if neg && mag != 0 {
		return 0, errOutOfRange
	}
	if bits < 64 && mag > uint64(1)<<bits-1 {
		return 0, errOutOfRange
	}
	return mag, nil
}

// decodeBase64 decodes standard-alphabet base64 as stout accepts it:
// whitespace is ignored and the padding may be left out. Characters outside
// the alphabet, and misplaced padding, are errors.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\n\v\f\r") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\n', '\v', '\f', '\r':
				return -1
			}
			return r
		}, s)
	}
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func describeJSON(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a JSON object"
	case []any:
		return "a JSON array"
	case string:
		return "a JSON string"
	case json.Number:
		return "a JSON number"
	case bool:
		return "a JSON boolean"
	}
	return fmt.Sprintf("%T", v)
}

func describeKind(fd protoreflect.FieldDescriptor) string {
	switch k := fd.Kind(); k {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "a base64 string"
	case protoreflect.BoolKind:
		return "a boolean"
	case protoreflect.EnumKind:
		return "the name of a " + string(fd.Enum().FullName()) + " value"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "a JSON object (" + string(fd.Message().FullName()) + ")"
	default:
		return "a number (" + k.String() + ")"
	}
}

// parseDurationField sets a google.protobuf.Duration field from a string:
// protobuf's JSON form ("10s", "1.5s") or a Mesos duration ("10mins").
// The object form {"seconds": N, "nanos": M} is parsed like any message.
func parseDurationField(m protoreflect.Message, fd protoreflect.FieldDescriptor, s string) error {
	d, err := ParseDuration(s)
	if secs, ok := strings.CutSuffix(s, "s"); err != nil && ok {
		f, ferr := strconv.ParseFloat(secs, 64)
		if ferr == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < float64(math.MaxInt64/int64(time.Second)) {
			d, err = time.Duration(f*float64(time.Second)), nil
		}
	}
	if err != nil {
		return fieldErrorf("expected a duration such as \"10s\" or \"10mins\", got %q", s)
	}
	dm := m.Mutable(fd).Message()
	fields := dm.Descriptor().Fields()
	dm.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(int64(d/time.Second)))
	dm.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32(int32(d%time.Second)))
	return nil
}
