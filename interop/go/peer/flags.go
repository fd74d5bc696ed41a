package peer

import (
	"flag"
	"fmt"
	"strings"

	"golang.org/x/net/http2"

	"secondarycerts/interop/h2ext"
)

// ProfileFlags registers -profile-setting, -profile-frame and -error-code,
// and returns a function that reads them once flags are parsed.
func ProfileFlags(fs *flag.FlagSet) func() (h2ext.Profile, error) {
	d := h2ext.DefaultProfile()
	setting := fs.String("profile-setting", fmt.Sprintf("0x%x", uint16(d.Setting)), "SETTINGS_HTTP_SERVER_CERT_AUTH identifier")
	frame := fs.String("profile-frame", fmt.Sprintf("0x%x", uint8(d.Frame)), "SERVER_CERTIFICATE frame type")
	code := fs.String("error-code", fmt.Sprintf("0x%x", uint32(d.Invalid)), "SERVER_CERTIFICATE_INVALID error code")
	return func() (h2ext.Profile, error) {
		s, err1 := h2ext.ParseNumber(*setting, 16)
		f, err2 := h2ext.ParseNumber(*frame, 8)
		e, err3 := h2ext.ParseNumber(*code, 32)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return h2ext.Profile{}, err
			}
		}
		return h2ext.Profile{Setting: http2.SettingID(s), Frame: http2.FrameType(f), Invalid: http2.ErrCode(e)}, nil
	}
}

// ListFlag is a repeatable flag whose values may also be comma-separated.
type ListFlag []string

func (l *ListFlag) String() string { return strings.Join(*l, ",") }

func (l *ListFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
