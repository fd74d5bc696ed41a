package h3peer

import (
	"flag"

	"secondarycerts/interop/peerkit"
)

// ProfileFlags registers -profile-setting, -profile-frame and -error-code
// (HTTP/3 codepoints: any varint) and returns a function that reads them
// once flags are parsed.
func ProfileFlags(fs *flag.FlagSet) func() (Profile, error) {
	d := DefaultProfile()
	read := peerkit.ProfileFlags(fs, peerkit.Codepoints(d), peerkit.Codepoints{Setting: 64, Frame: 64, Invalid: 64},
		func(v string, _ int) (uint64, error) { return ParseNumber(v) })
	return func() (Profile, error) {
		c, err := read()
		return Profile(c), err
	}
}
