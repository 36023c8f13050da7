package codec

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// kitchenDesc describes a test-only proto2 message with a field of every
// scalar kind, repeated enums and doubles, and maps with integer, boolean
// and string keys, so the generic paths that the Mesos protos do not
// exercise are tested too:
//
//	message Kitchen {
//	  enum Color { RED = 0; GREEN = 1; BLUE = 2; }
//	  optional int32 i32 = 1;   optional sint32 s32 = 2;  optional sfixed32 sf32 = 3;
//	  optional int64 i64 = 4;   optional sint64 s64 = 5;  optional sfixed64 sf64 = 6;
//	  optional uint32 u32 = 7;  optional fixed32 f32 = 8; optional uint64 u64 = 9;
//	  optional fixed64 f64 = 10; optional float fl = 11;  optional double db = 12;
//	  optional bool b = 13;     optional string s = 14;   optional bytes by = 15;
//	  optional Color color = 16; repeated Color colors = 17; repeated double dbs = 18;
//	  map<int32, string> by_int = 19; map<bool, int64> by_bool = 20;
//	  map<uint64, Kitchen> by_u64 = 21; map<string, Color> by_color = 22;
//	  optional float fl_def = 23 [default = 1.5]; optional Kitchen child = 24;
//	  repeated bytes bys = 25; optional Color color_def = 26 [default = BLUE];
//	  optional int64 old = 27 [default = 7, deprecated = true];
//	}
var kitchenDesc = func() protoreflect.MessageDescriptor {
	type T = descriptorpb.FieldDescriptorProto_Type
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	field := func(name string, num int32, label *descriptorpb.FieldDescriptorProto_Label, typ T, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: label, Type: typ.Enum()}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	entry := func(name string, k T, v T, vName string) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{
			Name: proto.String(name),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("key", 1, opt, k, ""),
				field("value", 2, opt, v, vName),
			},
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
		}
	}
	const (
		color   = ".codectest.Kitchen.Color"
		kitchen = ".codectest.Kitchen"
	)
	fields := []*descriptorpb.FieldDescriptorProto{
		field("i32", 1, opt, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
		field("s32", 2, opt, descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""),
		field("sf32", 3, opt, descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, ""),
		field("i64", 4, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
		field("s64", 5, opt, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""),
		field("sf64", 6, opt, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, ""),
		field("u32", 7, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT32, ""),
		field("f32", 8, opt, descriptorpb.FieldDescriptorProto_TYPE_FIXED32, ""),
		field("u64", 9, opt, descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""),
		field("f64", 10, opt, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""),
		field("fl", 11, opt, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
		field("db", 12, opt, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
		field("b", 13, opt, descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""),
		field("s", 14, opt, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
		field("by", 15, opt, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
		field("color", 16, opt, descriptorpb.FieldDescriptorProto_TYPE_ENUM, color),
		field("colors", 17, rep, descriptorpb.FieldDescriptorProto_TYPE_ENUM, color),
		field("dbs", 18, rep, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
		field("by_int", 19, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen+".ByIntEntry"),
		field("by_bool", 20, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen+".ByBoolEntry"),
		field("by_u64", 21, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen+".ByU64Entry"),
		field("by_color", 22, rep, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen+".ByColorEntry"),
		field("fl_def", 23, opt, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""),
		field("child", 24, opt, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen),
		field("bys", 25, rep, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
		field("color_def", 26, opt, descriptorpb.FieldDescriptorProto_TYPE_ENUM, color),
		field("old", 27, opt, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
	}
	fields[22].DefaultValue = proto.String("1.5")
	fields[25].DefaultValue = proto.String("BLUE")
	fields[26].DefaultValue = proto.String("7")
	fields[26].Options = &descriptorpb.FieldOptions{Deprecated: proto.Bool(true)}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("codectest/kitchen.proto"),
		Package: proto.String("codectest"),
		Syntax:  proto.String("proto2"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Kitchen"),
			Field: fields,
			NestedType: []*descriptorpb.DescriptorProto{
				entry("ByIntEntry", descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
				entry("ByBoolEntry", descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				entry("ByU64Entry", descriptorpb.FieldDescriptorProto_TYPE_UINT64, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, kitchen),
				entry("ByColorEntry", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_ENUM, color),
			},
			EnumType: []*descriptorpb.EnumDescriptorProto{{
				Name: proto.String("Color"),
				Value: []*descriptorpb.EnumValueDescriptorProto{
					{Name: proto.String("RED"), Number: proto.Int32(0)},
					{Name: proto.String("GREEN"), Number: proto.Int32(1)},
					{Name: proto.String("BLUE"), Number: proto.Int32(2)},
				},
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		panic(err)
	}
	return fd.Messages().Get(0)
}()

func newKitchen() *dynamicpb.Message { return dynamicpb.NewMessage(kitchenDesc) }
