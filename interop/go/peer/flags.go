package peer

import (
	"flag"

	"golang.org/x/net/http2"

	"secondarycerts/interop/h2ext"
	"secondarycerts/interop/peerkit"
)

// ProfileFlags registers -profile-setting, -profile-frame and -error-code,
// and returns a function that reads them once flags are parsed.
func ProfileFlags(fs *flag.FlagSet) func() (h2ext.Profile, error) {
	d := h2ext.DefaultProfile()
	read := peerkit.ProfileFlags(fs,
		peerkit.Codepoints{Setting: uint64(d.Setting), Frame: uint64(d.Frame), Invalid: uint64(d.Invalid)},
		peerkit.Codepoints{Setting: 16, Frame: 8, Invalid: 32}, h2ext.ParseNumber)
	return func() (h2ext.Profile, error) {
		c, err := read()
		return h2ext.Profile{Setting: http2.SettingID(c.Setting), Frame: http2.FrameType(c.Frame), Invalid: http2.ErrCode(c.Invalid)}, err
	}
}
