package config

import _ "embed" // the schema is compiled in for `projector config schema`

//go:generate go test -run ^TestSchemaIsCurrent$ . -update

// schemaJSON is the JSON Schema of the configuration file. It is generated
// from the structs the loader decodes into, with their doc comments as
// descriptions, by TestSchemaIsCurrent with -update (go generate ./config/
// or make schema), which also fails while the file is not current.
//
//go:embed projector.schema.json
var schemaJSON string

// SchemaFile is where the schema is in the repository, for the
// "# yaml-language-server: $schema=" line of configuration files.
const SchemaFile = "config/projector.schema.json"

// SchemaURL is where editors can fetch the schema of the newest release.
const SchemaURL = "https://raw.githubusercontent.com/projector-dev/projector/main/" + SchemaFile

// Schema returns the JSON Schema (draft 2020-12) of the configuration file,
// for editors (yaml-language-server) and CI checks of configuration files.
// Values written as ${VAR} are accepted wherever a value is, since they are
// only known at start.
func Schema() []byte { return []byte(schemaJSON) }
