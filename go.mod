module github.com/gomesos/gomesos

go 1.26.8

require (
	github.com/google/uuid v1.6.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
