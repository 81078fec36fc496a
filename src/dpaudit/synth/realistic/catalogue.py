"""Names, providers and merchants as they appear in Stockport families' paperwork and on UK
bank statements.  Written from how statements look, not from the engine's keyword lists."""

# (trading name, aliases as banks show them, category, registered)
PROVIDERS = [
    ("Vue Entertainment", ["VUE CINEMAS", "VUE BSL LTD"], "day_activities", "no"),
    ("Speech Therapy North West", ["SPEECH THERAPY NW", "STNW LTD"], "therapy", "yes"),
    ("Stockport Hydrotherapy Ltd", ["HYDROTHERAPY NW", "STOCKPORT HYDRO"], "therapy", "yes"),
    ("Bluebird Care Stockport", ["BLUEBIRD CARE", "BLUEBIRD CARE STKPT"], "agency_care", "yes"),
    ("Helping Hands Home Care", ["HELPING HANDS", "HELPING HANDS HC"], "agency_care", "yes"),
    ("Life Leisure", ["LIFE LEISURE", "STOCKPORT SPORTS TRUST"], "day_activities", "no"),
    ("Jump Nation Trampoline Park", ["JUMP NATION", "JUMPNATION STKPT"], "day_activities", "no"),
    ("Marple Swimming Club", ["MARPLE SC", "MARPLE SWIMMING"], "day_activities", "no"),
    ("Stockport Taxis", ["STOCKPORT TAXIS", "STK TAXIS"], "transport", "no"),
    ("A1 Private Hire", ["A1 CABS", "A1 PRIVATE HIRE"], "transport", "no"),
    ("Together Trust", ["TOGETHER TRUST", "TOGETHER TRUST CHEADLE"], "short_breaks", "yes"),
    ("Kidz Holiday Club", ["KIDZ CLUB", "KIDZ HOLIDAY CLUB"], "short_breaks", "no"),
    ("Stockport Counselling Service", ["STOCKPORT COUNSELLING", "SCS COUNSELLING"], "counselling", "yes"),
    ("Tutor Doctor Stockport", ["TUTOR DOCTOR", "TUTOR DR STOCKPORT"], "education_support", "no"),
    ("Explore Learning", ["EXPLORE LEARNING", "EXPLORE LRNG"], "education_support", "no"),
    ("Sensory Direct", ["SENSORY DIRECT", "SENSORYDIRECT.COM"], "small_aids", "no"),
    ("Complete Care Shop", ["COMPLETE CARE SHOP", "CCS MOBILITY"], "small_aids", "no"),
    ("Hair by Jo", ["HAIR BY JO", "HAIRBYJO"], "personal_care", "no"),
    ("Bramhall Youth Club", ["BRAMHALL YC", "BRAMHALL YOUTH"], "community_access", "no"),
    ("1st Cheadle Scouts", ["1ST CHEADLE SCOUTS", "CHEADLE SCOUT GRP"], "community_access", "no"),
    ("Mark Bates Ltd", ["MARK BATES LTD", "MARK BATES INS"], "insurance", "yes"),
    ("Direct Payroll Services", ["DPS PAYROLL", "DIRECT PAYROLL SVCS"], "payroll_services", "yes"),
    ("First Aid Training Co", ["FIRST AID TRAINING", "FATC LTD"], "training", "no"),
    ("St Thomas Primary School", ["ST THOMAS PRIMARY", "ST THOMAS PS"], "education_support", "no"),
]
PROV = {p[0]: p for p in PROVIDERS}

TOWNS = ["STOCKPORT", "MANCHESTER", "CHEADLE", "MARPLE", "HAZEL GROVE", "BRAMHALL", "BREDBURY"]

# activity templates: key -> (provider, pattern, price pence (or list), method, evidence)
#  pattern: ("weekly", weekday, skip) ("twice", wd1, wd2, skip) ("fortnightly", wd) ("monthly", day)
#  method: CARD / DD / SO / FPO ; evidence: receipt / invoice / monthly_invoice
ACTIVITIES = {
    "hydro": ("Stockport Hydrotherapy Ltd", ("twice", 1, 3, 0.12), 3500, "CARD", "receipt"),
    "speech": ("Speech Therapy North West", ("fortnightly", 2), 6000, "FPO", "invoice"),
    "vue": ("Vue Entertainment", ("weekly", 5, 0.45), [1099, 1249, 1399, 2198], "CARD", "receipt"),
    "jump": ("Jump Nation Trampoline Park", ("fortnightly", 6), 1450, "CARD", "receipt"),
    "swim": ("Marple Swimming Club", ("monthly", 1), 3200, "SO", "receipt"),
    "leisure": ("Life Leisure", ("monthly", 15), 2450, "DD", "receipt"),
    "bluebird": ("Bluebird Care Stockport", ("weekly", 2, 0.05), 2650 * 6, "DD", "monthly_invoice"),
    "helping": ("Helping Hands Home Care", ("weekly", 4, 0.05), 2780 * 4, "DD", "monthly_invoice"),
    "together": ("Together Trust", ("monthly", 12), 18500, "FPO", "invoice"),
    "kidz": ("Kidz Holiday Club", ("weekly", 2, 0.2), 3200, "CARD", "receipt"),
    "taxi": ("Stockport Taxis", ("twice", 0, 4, 0.15), 1640, "CARD", "receipt"),
    "a1cabs": ("A1 Private Hire", ("weekly", 3, 0.15), 2200, "CARD", "receipt"),
    "youth": ("Bramhall Youth Club", ("weekly", 3, 0.2), 600, "CARD", "receipt"),
    "scouts": ("1st Cheadle Scouts", ("monthly", 5), 1500, "SO", "receipt"),
    "tutor": ("Tutor Doctor Stockport", ("weekly", 1, 0.15), 3800, "FPO", "monthly_invoice"),
    "explore": ("Explore Learning", ("monthly", 8), 12900, "DD", "invoice"),
    "sensory": ("Sensory Direct", ("every", 45), [1999, 2450, 3299, 4150], "CARD", "receipt"),
    "hair": ("Hair by Jo", ("monthly", 20), 1600, "CARD", "receipt"),
    "counsel": ("Stockport Counselling Service", ("fortnightly", 3), 4500, "FPO", "invoice"),
}

FIRST_F = ["Karen", "Sarah", "Emma", "Lisa", "Joanne", "Nicola", "Claire", "Michelle", "Rachel",
           "Helen", "Amanda", "Gemma", "Donna", "Sandra", "Coral", "Julie", "Zainab", "Priya",
           "Aisha", "Agnieszka"]
FIRST_M = ["Mark", "Paul", "David", "Andrew", "Lee", "Darren", "Gary", "Imran", "Tomasz", "Wayne"]
CHILD = ["Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "Charlie", "Mia", "George", "Lily",
         "Noah", "Freya", "Leo", "Evie", "Alfie", "Ruby", "Oscar", "Grace", "Arthur", "Ivy",
         "Theo", "Poppy", "Finley", "Rosie", "Mohammed", "Hannah", "Reggie", "Ella", "Archie",
         "Sofia"]
# holder surnames: many are also ordinary words (a keyword matcher must not read them as payees)
SURNAMES_WORDY = ["Baker", "Taylor", "Cook", "Bird", "Park", "Hill", "Bell", "Cash", "Wood",
                  "Mason", "Price", "King", "Marsh", "Fox", "Booth", "Banks", "Green", "Shepherd",
                  "Rose", "Lamb"]
SURNAMES = ["Hughes", "Kowalski", "Patel", "Ahmed", "Walsh", "Clarke", "Robinson", "Murphy",
            "Nowak", "Okafor", "Brennan", "Doyle", "Khan", "Hussain", "Evans", "Roberts"]
PA_FIRST = ["Jane", "Coral", "Tracey", "Ben", "Chloe", "Adam", "Megan", "Nadia", "Kelly",
            "Sophie", "Ryan", "Leanne", "Bethany", "Kieran", "Jodie", "Dominika"]
PA_SURNAMES = ["Smith", "Hughes", "Wade", "Gibson", "O'Neill", "Lowe", "Barlow", "Hampson",
               "Brookes", "Jennings", "Sutcliffe", "Whitworth", "Kerr", "Molloy", "Duffy", "Riley"]
OFFICERS = ["A. Farrow", "B. Singh", "C. Nolan", "D. Lees"]

GAMBLING = [("WILLIAM HILL 2231", "STOCKPORT GB"), ("LADBROKES 4412", "HAZEL GROVE"),
            ("CORAL RACING LTD", "STOCKPORT"), ("PADDYPOWER.COM", "LONDON GB"),
            ("BETFRED 1187", "MARPLE"), ("BET365", "STOKE ON TRENT GB"),
            ("SKY BETTING AND GAMING", "LEEDS GB"), ("SKYBET.COM", "LEEDS")]
ALCOHOL = [("MAJESTIC WINE", "STOCKPORT"), ("BARGAIN BOOZE 221", "STOCKPORT"),
           ("ODDBINS", "CHEADLE"), ("BOTTLE BAR AND SHOP", "MANCHESTER")]
UTILITIES = ["BRITISH GAS", "OCTOPUS ENERGY", "EDF ENERGY", "UNITED UTILITIES",
             "SEVERN TRENT WATER"]
TELECOMS = ["BT GROUP PLC", "SKY DIGITAL", "VIRGIN MEDIA", "VODAFONE LTD", "EE LIMITED",
            "O2 UK", "TV LICENCE MBP"]
GROCERS = [("TESCO STORES 2975", "STOCKPORT"), ("ASDA STORES", "HAZEL GROVE"),
           ("SAINSBURYS S/MKTS", "CHEADLE"), ("ALDI 84 772", "STOCKPORT"),
           ("MORRISONS", "MARPLE")]

# ---------------------------------------------------------------------- extended councils
# (issue 18; used only with --extended, so the default councils are unchanged)

# providers that only the extended councils pay (providers.csv gets them appended)
EXT_PROVIDERS = [
    ("Sunshine Respite Ltd", ["SUNSHINE RESPITE", "SUNSHINE RESPITE LTD"], "short_breaks", "yes"),
    ("Little Stars Play Scheme", ["LITTLE STARS", "LITTLE STARS PLAY"], "day_activities", "no"),
    ("Oakwood Home Support", ["OAKWOOD HOME SUPPORT", "OAKWOOD HS LTD"], "agency_care", "yes"),
]
EXT_PROV = {p[0]: p for p in EXT_PROVIDERS}

# the merchant category code a card terminal of each provider reports (ISO 18245 codes:
# 7832 cinemas, 8099 health services, 7997 clubs/leisure, 7999 recreation, 4121 taxis,
# 8398 charitable and social service organisations, 7032 recreational camps, 8299 education,
# 5945 toys/games, 5047 medical equipment, 7230 hairdressers, 8641 civic/social associations,
# 6300 insurance, 7399 business services, 8211 schools)
PROVIDER_MCC = {
    "Vue Entertainment": "7832", "Speech Therapy North West": "8099",
    "Stockport Hydrotherapy Ltd": "8099", "Bluebird Care Stockport": "8099",
    "Helping Hands Home Care": "8099", "Life Leisure": "7997",
    "Jump Nation Trampoline Park": "7999", "Marple Swimming Club": "7997",
    "Stockport Taxis": "4121", "A1 Private Hire": "4121", "Together Trust": "8398",
    "Kidz Holiday Club": "7032", "Stockport Counselling Service": "8099",
    "Tutor Doctor Stockport": "8299", "Explore Learning": "8299", "Sensory Direct": "5945",
    "Complete Care Shop": "5047", "Hair by Jo": "7230", "Bramhall Youth Club": "8641",
    "1st Cheadle Scouts": "8641", "Mark Bates Ltd": "6300", "Direct Payroll Services": "7399",
    "First Aid Training Co": "8299", "St Thomas Primary School": "8211",
    "Sunshine Respite Ltd": "8398", "Little Stars Play Scheme": "7999",
    "Oakwood Home Support": "8099",
}

# The policy's default MCC lists (src/dpaudit/resources/policy.default.toml [keywords],
# copied 2026-12 as data; tests/test_realistic_extended.py checks they still agree) and the
# cash codes of docs defs (6010 manual cash, 6011 ATM).
PROHIBITED_MCC = ["5813", "5921", "5993", "7273", "7800", "7801", "7802", "7995", "9406"]
HOUSEHOLD_MCC = ["4814", "4899", "4900", "5411", "5499", "6513", "9311"]
CASH_MCC = ["6010", "6011"]

# card-portal merchants that are not providers.  (merchant as printed, MCC, kind)
#  kind: prohibited / household / cash  (decided by the MCC, whatever the name says)
#        noise (an ordinary purchase of no plan category: with a receipt nothing is raised)
CARD_PROHIBITED = [("QUINNBET", "7995"), ("PLAYOJO", "7995"), ("THE ARDEN ARMS", "5813"),
                   ("BOTTLE STOP", "5921")]
CARD_HOUSEHOLD = [("UTILITA ENERGY", "4900"), ("SMARTY MOBILE", "4814"),
                  ("BARGAIN FOODS LTD", "5411"), ("STOCKPORT HOMES RENT", "6513")]
CARD_CASH = [("NOTEMACHINE HAZEL GRV", "6011"), ("POST OFFICE COUNTER", "6010")]
CARD_NOISE = [("MCDONALDS 1342", "5814"), ("GREGGS 2271", "5814"), ("COSTA COFFEE 43361", "5814"),
              ("FRANKIE AND BENNYS", "5812"), ("BOOTS 1145", "5912"), ("SUPERDRUG 0871", "5912"),
              ("PRIMARK", "5651"), ("WHSMITH 1162", "5942")]

# defs "Client contributions": policy [contributions] keywords (default)
CONTRIBUTION_KEYWORDS = ["CONTRIBUTION", "CONTRIB", "CLIENT CONT"]
# defs "Cohort checks": policy [cohort] defaults
COHORT = dict(co_max_accounts=3, co_max_weekly_hours=78, co_benford_min_sample=60,
              co_benford_min_span=100,
              co_benford_chi2="20.09", co_round_unit=5000, co_round_share="0.5",
              co_round_min_sample=20, co_min_amount=1000)
