module github.com/gomesos/gomesos

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	github.com/hashicorp/go-immutable-radix/v2 v2.1.0
	google.golang.org/protobuf v1.36.12
	pgregory.net/rapid v1.3.0
)

require github.com/hashicorp/golang-lru/v2 v2.0.0 // indirect
