package testutil

import "google.golang.org/protobuf/reflect/protoreflect"

// ReplaceIDs walks m and sets the value of every message named idType (an
// id message such as "mesos.v1.TaskID") whose value is placeholder to id.
// Fuzz targets use it to aim fuzzed bodies at objects that exist. It
// reports whether it replaced anything.
func ReplaceIDs(m protoreflect.Message, idType protoreflect.FullName, placeholder, id string) bool {
	if m.Descriptor().FullName() == idType {
		fd := m.Descriptor().Fields().ByName("value")
		if fd == nil || m.Get(fd).String() != placeholder {
			return false
		}
		m.Set(fd, protoreflect.ValueOfString(id))
		return true
	}
	changed := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					changed = ReplaceIDs(mv.Message(), idType, placeholder, id) || changed
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					changed = ReplaceIDs(v.List().Get(i).Message(), idType, placeholder, id) || changed
				}
			}
		case fd.Message() != nil:
			changed = ReplaceIDs(v.Message(), idType, placeholder, id) || changed
		}
		return true
	})
	return changed
}
