module github.com/janus-proxy/janus

go 1.26.0

require (
	golang.org/x/crypto v0.59.0
	golang.org/x/net v0.62.0
)

require go.yaml.in/yaml/v3 v3.0.6

require golang.org/x/text v0.44.0 // indirect
