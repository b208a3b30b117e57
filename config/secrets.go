package config

import "strings"

// sinkSecrets reads the sink's password and API key files.
func (l *loader) sinkSecrets(s *Sink) {
	if s.PasswordFile != "" {
		if s.Password != "" {
			l.errs = append(l.errs, l.at("sink.password_file").Errorf("sink.password_file: password is set too; keep one of password and password_file"))
		} else {
			s.Password = l.secret(s.PasswordFile, "sink.password_file")
		}
	}
	if s.APIKeyFile != "" {
		if s.APIKey != "" {
			l.errs = append(l.errs, l.at("sink.api_key_file").Errorf("sink.api_key_file: api_key is set too; keep one of api_key and api_key_file"))
		} else {
			s.APIKey = l.secret(s.APIKeyFile, "sink.api_key_file")
		}
	}
}

// httpSecrets reads the token that guards the runtime profiles.
func (l *loader) httpSecrets(h *HTTP) {
	if h.PprofTokenFile != "" {
		h.PprofToken = l.secret(h.PprofTokenFile, "http.pprof_token_file")
	}
}

// sourcePassword puts the content of a source's password file into its DSN,
// so that everything downstream connects with the DSN alone.
func (l *loader) sourcePassword(src *Source, path string) {
	if src.PasswordFile == "" {
		return
	}
	key := path + ".password_file"
	password := l.secret(src.PasswordFile, key)
	if password == "" {
		return
	}
	dsn, err := withPassword(src.DSN, password)
	if err != nil {
		l.errs = append(l.errs, l.at(key).Errorf("%s: cannot use it: %w; keep the password in one place", key, err))
		return
	}
	src.DSN = dsn
}

// secret reads a secret file, without the line breaks editors and echo add
// at its end. Problems are recorded and yield "".
func (l *loader) secret(file, key string) string {
	data, err := l.readFile(file)
	if err != nil {
		l.errs = append(l.errs, l.at(key).Errorf("%s: %w; check the path and that projector may read it", key, err))
		return ""
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		l.errs = append(l.errs, l.at(key).Errorf("%s: %s is empty; write the secret into it", key, file))
	}
	return s
}

// at is where path was written.
func (l *loader) at(path string) Pos { return lookupPos(l.positions, l.file, path) }
