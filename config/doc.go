// Package config loads and validates projector's YAML configuration. It
// only reads and checks: it starts nothing and connects nowhere.
package config
