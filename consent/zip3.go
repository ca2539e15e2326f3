package consent

// This file holds heed's embedded location data: the USPS state (or territory)
// of every three-digit ZIP prefix, the IANA time zones each state spans, and
// the prefixes of split states whose zones differ from the state's. The data
// is deliberately generous: where a ZIP3 straddles a time-zone line it lists
// both zones, because the engine allows a call only when every plausible
// location allows it.

// zip3Range assigns the ZIP3 prefixes lo..hi (inclusive) to a state.
type zip3Range struct {
	lo, hi int
	state  string
}

// zip3States lists the ZIP3 ranges of the USPS. Military prefixes (AA, AE,
// AP) are left out: they say nothing about where a person is.
var zip3States = []zip3Range{
	{5, 5, "NY"}, {6, 7, "PR"}, {8, 8, "VI"}, {9, 9, "PR"},
	{10, 27, "MA"}, {28, 29, "RI"}, {30, 38, "NH"}, {39, 49, "ME"},
	{50, 54, "VT"}, {55, 55, "MA"}, {56, 59, "VT"}, {60, 69, "CT"},
	{70, 89, "NJ"}, {100, 149, "NY"}, {150, 196, "PA"}, {197, 199, "DE"},
	{200, 200, "DC"}, {201, 201, "VA"}, {202, 205, "DC"}, {206, 219, "MD"},
	{220, 246, "VA"}, {247, 268, "WV"}, {270, 289, "NC"}, {290, 299, "SC"},
	{300, 319, "GA"}, {320, 339, "FL"}, {341, 349, "FL"}, {350, 369, "AL"},
	{370, 385, "TN"}, {386, 397, "MS"}, {398, 399, "GA"}, {400, 427, "KY"},
	{430, 459, "OH"}, {460, 479, "IN"}, {480, 499, "MI"}, {500, 528, "IA"},
	{530, 549, "WI"}, {550, 567, "MN"}, {569, 569, "DC"}, {570, 577, "SD"},
	{580, 588, "ND"}, {590, 599, "MT"}, {600, 629, "IL"}, {630, 658, "MO"},
	{660, 679, "KS"}, {680, 693, "NE"}, {700, 714, "LA"}, {716, 729, "AR"},
	{730, 732, "OK"}, {733, 733, "TX"}, {734, 749, "OK"}, {750, 799, "TX"},
	{800, 816, "CO"}, {820, 831, "WY"}, {832, 838, "ID"}, {840, 847, "UT"},
	{850, 865, "AZ"}, {870, 884, "NM"}, {885, 885, "TX"}, {889, 898, "NV"},
	{900, 961, "CA"}, {967, 968, "HI"}, {969, 969, "GU"}, {970, 979, "OR"},
	{980, 994, "WA"}, {995, 999, "AK"},
}

// Time-zone names used by the location tables. They are the names
// phonenumbers uses for the same places.
const (
	tzEastern  = "America/New_York"
	tzCentral  = "America/Chicago"
	tzMountain = "America/Denver"
	tzArizona  = "America/Phoenix"
	tzBoise    = "America/Boise"
	tzPacific  = "America/Los_Angeles"
	tzAlaska   = "America/Anchorage"
	tzAleutian = "America/Adak"
	tzHawaii   = "Pacific/Honolulu"
	tzPR       = "America/Puerto_Rico"
	tzVI       = "America/St_Thomas"
	tzGuam     = "Pacific/Guam"
	tzSaipan   = "Pacific/Saipan"
	tzSamoa    = "Pacific/Pago_Pago"
)

// stateZones lists every time zone a state or territory spans. The Navajo
// Nation in Arizona keeps daylight time, so Arizona lists Mountain time too.
var stateZones = map[string][]string{
	"AL": {tzCentral}, "AK": {tzAlaska, tzAleutian}, "AZ": {tzArizona, tzMountain},
	"AR": {tzCentral}, "CA": {tzPacific}, "CO": {tzMountain}, "CT": {tzEastern},
	"DE": {tzEastern}, "DC": {tzEastern}, "FL": {tzEastern, tzCentral},
	"GA": {tzEastern}, "HI": {tzHawaii}, "ID": {tzBoise, tzPacific},
	"IL": {tzCentral}, "IN": {tzEastern, tzCentral}, "IA": {tzCentral},
	"KS": {tzCentral, tzMountain}, "KY": {tzEastern, tzCentral}, "LA": {tzCentral},
	"ME": {tzEastern}, "MD": {tzEastern}, "MA": {tzEastern},
	"MI": {tzEastern, tzCentral}, "MN": {tzCentral}, "MS": {tzCentral},
	"MO": {tzCentral}, "MT": {tzMountain}, "NE": {tzCentral, tzMountain},
	"NV": {tzPacific, tzMountain}, "NH": {tzEastern}, "NJ": {tzEastern},
	"NM": {tzMountain}, "NY": {tzEastern}, "NC": {tzEastern},
	"ND": {tzCentral, tzMountain}, "OH": {tzEastern}, "OK": {tzCentral},
	"OR": {tzPacific, tzMountain}, "PA": {tzEastern}, "RI": {tzEastern},
	"SC": {tzEastern}, "SD": {tzCentral, tzMountain}, "TN": {tzCentral, tzEastern},
	"TX": {tzCentral, tzMountain}, "UT": {tzMountain}, "VT": {tzEastern},
	"VA": {tzEastern}, "WA": {tzPacific}, "WV": {tzEastern}, "WI": {tzCentral},
	"WY": {tzMountain},
	"PR": {tzPR}, "VI": {tzVI}, "GU": {tzGuam}, "MP": {tzSaipan}, "AS": {tzSamoa},
}

// zip3Zones overrides the zones of ZIP3 prefixes in states that span more
// than one zone. A split state's prefix that is not listed here takes the
// state's first (main) zone.
var zip3Zones = map[int][]string{
	// Alaska: the Aleutians (Adak, 99546) are in 995.
	995: {tzAlaska, tzAleutian},
	// Arizona: the Navajo Nation keeps daylight time.
	860: {tzArizona, tzMountain}, 865: {tzArizona, tzMountain},
	// Florida: the panhandle west of the Apalachicola is Central.
	324: {tzCentral, tzEastern}, 325: {tzCentral},
	// Idaho: the north and Lewiston are Pacific.
	835: {tzPacific, tzBoise}, 838: {tzPacific},
	// Indiana: the north-west and south-west corners are Central.
	463: {tzCentral}, 464: {tzCentral}, 465: {tzEastern, tzCentral},
	475: {tzEastern, tzCentral}, 476: {tzCentral}, 477: {tzCentral},
	// Kansas: the western counties are Mountain.
	677: {tzCentral, tzMountain}, 678: {tzCentral, tzMountain},
	// Kentucky: the west is Central; several prefixes straddle the line.
	401: {tzEastern, tzCentral}, 420: {tzCentral}, 421: {tzCentral},
	422: {tzCentral}, 423: {tzCentral}, 424: {tzCentral},
	425: {tzEastern, tzCentral}, 426: {tzEastern, tzCentral}, 427: {tzEastern, tzCentral},
	// Michigan: the Upper Peninsula counties on the Wisconsin line are Central.
	498: {tzEastern, tzCentral}, 499: {tzEastern, tzCentral},
	// North Dakota: the south-west is Mountain.
	585: {tzCentral, tzMountain}, 586: {tzMountain, tzCentral}, 588: {tzCentral, tzMountain},
	// Nebraska: the panhandle is Mountain.
	690: {tzCentral, tzMountain}, 691: {tzCentral, tzMountain},
	692: {tzCentral, tzMountain}, 693: {tzMountain},
	// Nevada: West Wendover keeps Mountain time.
	898: {tzPacific, tzMountain},
	// Oregon: most of Malheur County is Mountain.
	979: {tzPacific, tzMountain},
	// South Dakota: the west is Mountain.
	575: {tzCentral, tzMountain}, 576: {tzCentral, tzMountain}, 577: {tzMountain},
	// Tennessee: the east is Eastern; 373 and 385 straddle the line.
	373: {tzEastern, tzCentral}, 374: {tzEastern}, 376: {tzEastern},
	377: {tzEastern}, 378: {tzEastern}, 379: {tzEastern}, 385: {tzCentral, tzEastern},
	// Texas: El Paso and Hudspeth County are Mountain.
	798: {tzMountain, tzCentral}, 799: {tzMountain}, 885: {tzMountain},
	// Guam and the Northern Mariana Islands share 969.
	969: {tzGuam, tzSaipan},
}

// americanSamoaZIP is the one ZIP code of American Samoa, which shares the
// prefix 967 with Hawaii.
const americanSamoaZIP = "96799"

// unknownLocationZones are the zones assumed when nothing is known about where
// the called party is: every zone of the fifty states and DC.
var unknownLocationZones = []string{
	tzEastern, tzCentral, tzMountain, tzArizona, tzPacific, tzAlaska, tzHawaii,
}
