package h3peer

import (
	"crypto/tls"
	"flag"
	"fmt"
	"strings"
)

// ProfileFlags registers -profile-setting, -profile-frame and -error-code
// (HTTP/3 codepoints: any varint) and returns a function that reads them
// once flags are parsed.
func ProfileFlags(fs *flag.FlagSet) func() (Profile, error) {
	d := DefaultProfile()
	setting := fs.String("profile-setting", fmt.Sprintf("0x%x", d.Setting), "SETTINGS_HTTP_SERVER_CERT_AUTH identifier")
	frame := fs.String("profile-frame", fmt.Sprintf("0x%x", d.Frame), "SERVER_CERTIFICATE frame type")
	code := fs.String("error-code", fmt.Sprintf("0x%x", d.Invalid), "SERVER_CERTIFICATE_INVALID error code")
	return func() (Profile, error) {
		s, err1 := ParseNumber(*setting)
		f, err2 := ParseNumber(*frame)
		e, err3 := ParseNumber(*code)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return Profile{}, err
			}
		}
		return Profile{Setting: s, Frame: f, Invalid: e}, nil
	}
}

// SecondaryFlag collects repeated "-secondary chain.pem,key.pem" pairs.
type SecondaryFlag []tls.Certificate

func (s *SecondaryFlag) String() string { return fmt.Sprintf("%d identities", len(*s)) }

func (s *SecondaryFlag) Set(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("want chain.pem,key.pem, got %q", v)
	}
	c, err := tls.LoadX509KeyPair(strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]))
	if err != nil {
		return err
	}
	*s = append(*s, c)
	return nil
}
