"""A seeded, believable Japanese online tea shop ("Chanoma Tea"), for `comeback demo`.

`generate()` plays out about 18 months of shop life and returns every event the shop would have
sent us, in the canonical shape of docs/events.md, grouped by (Tokyo) day. The shop is built to
exercise the engine: loyal regulars, occasional buyers, one-time buyers, customers who lapse,
browsers who never buy, abandoned carts, refunds, NPS answers, consent changes, erasure requests,
visitors first known by email only, and the gift seasons of a Japanese year.

Everything comes from one `random.Random(seed)`, drawn in a fixed order: the same arguments give
the same shop, byte for byte. Nothing reads the clock.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from itertools import accumulate
from zoneinfo import ZoneInfo

from comeback.domain.events import EVENT_TYPES

JST = timezone(timedelta(hours=9))
LOS_ANGELES = "America/Los_Angeles"
TOKYO = "Asia/Tokyo"
SHOP_URL = "https://tea.example.jp"
CURRENCY = "JPY"
LOYALTY_PROGRAM = "chanoma-club"

# --- who the customers are -------------------------------------------------------------------------

LOYAL, OCCASIONAL, ONE_TIME, LAPSING, BROWSER = "loyal", "occasional", "one_time", "lapsing", "browser"
# Regulars and occasional buyers make most of the events (a regular orders ~9 times in the window), so
# their shares sit a little under 12% / 25% to keep the default shop near 22k events.
PERSONA_SHARES = {LOYAL: 0.10, OCCASIONAL: 0.22, ONE_TIME: 0.36, LAPSING: 0.20, BROWSER: 0.12}

ENGLISH_SHARE = 0.10
LOS_ANGELES_SHARE = 0.03
BIRTHDAY_SHARE = 0.60
MARKETING_CONSENT_SHARE = 0.6
CONSENT_CHANGE_SHARE = 0.04  # a few customers later opt out (mostly) or in
EMAIL_FIRST_SHARE = 0.05  # known by email (newsletter click) before they sign up
DELETION_SHARE = 0.003  # erasure requests: rare, and the customer is gone afterwards
REFERRAL_SHARE = 0.01
FEMALE_SHARE = 0.65  # a tea shop's customers lean female

# --- what happens around an order -------------------------------------------------------------------

VIEWS_BEFORE_ORDER = ((0, 1), (88, 12))
CART_BEFORE_ORDER_RATE = 0.05  # the rest buy straight from the product page
BUY_AGAIN_RATE = 0.45  # regulars often reorder their usual teas from their order history, no browsing
CHECKOUT_RATE = 0.05
ABANDONED_CART_PER_ORDER = 0.08  # with the rate above, about 70% of carts never become an order, as shops see
BROWSE_ONLY_PER_ORDER = 0.03  # a look around without buying: fuel for browse abandonment
REFUND_RATE = 0.02
FEEDBACK_RATE = 0.06
NPS_SCORE_WEIGHTS = (1, 1, 1, 1, 2, 3, 4, 8, 14, 24, 26)  # 0..10, skewed positive as NPS answers are
COMMENT_RATE = 0.4
WELCOME_CODE_RATE = 0.25
SEASON_CODE_RATE = 0.35
# who joins the tea club, and after which order: regulars once they know they will stay
LOYALTY_JOIN_CHANCE = {(LOYAL, 3): 0.25, (OCCASIONAL, 2): 0.04}
SHIPPING_JP, SHIPPING_ABROAD, FREE_SHIPPING_FROM = 550, 2200, 5400

# Lapsing customers go quiet this long (plus a margin for late feedback) before the window ends.
LAPSE_QUIET_DAYS = 120
LAPSE_MARGIN_DAYS = 25

# Hour of day in the customer's own time zone: a lunch bump and an evening peak.
HOUR_WEIGHTS = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 1.8, 2.0, 2.2, 2.4,
    3.0, 2.6, 2.2, 2.2, 2.4, 2.8, 3.4, 4.2, 5.0, 5.2, 4.2, 2.4,
)  # fmt: skip
_HOUR_CUM = tuple(accumulate(HOUR_WEIGHTS))


# --- the catalog --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    slug: str
    sku: str
    name: str
    category: str
    price: int  # whole yen
    popularity: float = 1.0

    @property
    def id(self) -> str:
        return f"p-{self.slug}"


def _catalog() -> tuple[Product, ...]:
    rows = {
        "tea": [
            ("sencha", "Shizuoka Sencha", 1620, 6.0),
            ("fukamushi", "Fukamushi Sencha", 1980, 4.0),
            ("gyokuro", "Uji Gyokuro", 4320, 2.5),
            ("kabusecha", "Kabusecha", 2380, 1.5),
            ("matcha-ceremonial", "Ceremonial Matcha (Uji)", 3980, 4.0),
            ("matcha-daily", "Daily Matcha", 1890, 5.0),
            ("hojicha", "Kyoto Hojicha", 1280, 5.0),
            ("genmaicha", "Genmaicha", 980, 4.0),
            ("kukicha", "Kukicha", 1180, 1.5),
            ("kyobancha", "Kyobancha", 860, 1.0),
            ("wakocha", "Wakocha Black Tea", 1760, 2.0),
            ("sakura-sencha", "Sakura Sencha", 2160, 1.0),
            ("shincha", "First-Flush Shincha", 2480, 1.5),
            ("tamaryokucha", "Tamaryokucha", 1540, 1.0),
            ("mugicha", "Roasted Barley Tea", 600, 2.0),
            ("yuzu-sencha", "Yuzu Sencha", 1680, 1.5),
            ("sobacha", "Buckwheat Tea", 720, 1.0),
            ("yame-gyokuro", "Yame Dento Gyokuro", 8640, 0.6),
        ],
        "teaware": [
            ("tokoname-kyusu", "Tokoname Kyusu Teapot", 6600, 1.2),
            ("banko-kyusu", "Banko Kyusu Teapot", 4950, 1.0),
            ("hagi-yunomi-pair", "Hagi Yunomi Pair", 3850, 1.0),
            ("raku-chawan", "Raku Matcha Bowl", 9800, 0.5),
            ("chasen", "Bamboo Whisk (Chasen)", 2750, 1.5),
            ("chashaku", "Bamboo Scoop (Chashaku)", 880, 1.0),
            ("matcha-starter-set", "Matcha Starter Set", 7480, 1.0),
            ("copper-canister", "Copper Tea Canister", 11800, 0.4),
            ("cold-brew-bottle", "Cold-Brew Glass Bottle", 1650, 1.2),
            ("lacquer-tray", "Lacquer Tea Tray", 5280, 0.4),
        ],
        "sweets": [
            ("kyoto-yokan", "Kyoto Yokan", 1620, 1.5),
            ("matcha-monaka", "Matcha Monaka (6)", 1296, 1.5),
            ("warabi-mochi", "Warabi Mochi", 1080, 1.2),
            ("dorayaki-box", "Dorayaki Box (5)", 1350, 1.2),
            ("senbei", "Kyoto Senbei Assortment", 864, 1.5),
            ("konpeito", "Konpeito", 648, 1.0),
            ("matcha-langue-de-chat", "Matcha Langue de Chat", 1188, 1.5),
        ],
        "gift": [
            ("gift-sencha-duo", "Sencha Duo Gift Box", 3780, 1.0),
            ("gift-tasting-set", "Tea Tasting Set (12)", 4980, 1.0),
            ("gift-matcha-wagashi", "Matcha & Wagashi Gift", 5940, 0.8),
            ("gift-summer-cold-brew", "Summer Cold-Brew Gift", 3240, 0.4),
            ("gift-winter-gyokuro", "Winter Gyokuro Gift", 10800, 0.3),
            ("gift-card-5000", "Gift Card ¥5,000", 5000, 0.5),
        ],
    }
    prefixes = {"tea": "TEA", "teaware": "WARE", "sweets": "SWT", "gift": "GIFT"}
    return tuple(
        Product(slug, f"{prefixes[category]}-{n:02d}", name, category, price, popularity)
        for category, products in rows.items()
        for n, (slug, name, price, popularity) in enumerate(products, start=1)
    )


CATALOG = _catalog()
_BY_SLUG = {p.slug: p for p in CATALOG}
_CATALOG_CUM = tuple(accumulate(p.popularity for p in CATALOG))

# --- the Japanese year ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Season:
    name: str
    first: date
    last: date
    lift: float  # how much busier a day of it is than an ordinary day
    code: str  # the discount code the shop runs then
    gifts: tuple[str, ...]  # what people buy as presents then


def _black_friday(year: int) -> date:
    november_first = date(year, 11, 1)
    first_thursday = november_first + timedelta(days=(3 - november_first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _seasons(year: int) -> list[Season]:
    black_friday = _black_friday(year)
    return [
        Season(
            "new_year",
            date(year, 1, 1),
            date(year, 1, 7),
            2.4,
            "NEWYEAR10",
            ("gift-tasting-set", "kyoto-yokan"),
        ),
        Season(
            "ochugen",
            date(year, 7, 1),
            date(year, 7, 20),
            2.0,
            "OCHUGEN5",
            ("gift-summer-cold-brew", "gift-sencha-duo", "cold-brew-bottle"),
        ),
        Season(
            "black_friday",
            black_friday - timedelta(days=4),
            black_friday + timedelta(days=3),
            2.6,
            "BLACKFRIDAY15",
            ("matcha-starter-set", "tokoname-kyusu", "gift-card-5000"),
        ),
        Season(
            "oseibo",
            date(year, 12, 1),
            date(year, 12, 25),
            2.2,
            "OSEIBO5",
            ("gift-winter-gyokuro", "gift-matcha-wagashi", "gift-tasting-set"),
        ),
    ]


CODE_PERCENT = {"WELCOME10": 10, "NEWYEAR10": 10, "OCHUGEN5": 5, "BLACKFRIDAY15": 15, "OSEIBO5": 5}


class _Calendar:
    """Days of the window as indexes 0..days-1, with the seasons on them and weighted sampling."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        self.season: list[Season | None] = [None] * days
        self.seasons: list[tuple[Season, int, int]] = []  # (season, first index, last index)
        end = start + timedelta(days=days - 1)
        for year in range(start.year, end.year + 1):
            for season in _seasons(year):
                first = max((season.first - start).days, 0)
                last = min((season.last - start).days, days - 1)
                if first > last:
                    continue
                self.seasons.append((season, first, last))
                for i in range(first, last + 1):
                    current = self.season[i]
                    if current is None or season.lift > current.lift:
                        self.season[i] = season
        lift = [s.lift if s else 1.0 for s in self.season]
        # weekends are a little busier for a gift-and-hobby shop
        busy = [lift[i] * (1.15 if (start + timedelta(days=i)).weekday() >= 5 else 1.0) for i in range(days)]
        self._busy_cum = list(accumulate(busy))
        # new customers: a launch-year shop grows fastest early on, and gift seasons bring newcomers
        signup = [busy[i] * (1.3 - 0.6 * i / days) for i in range(days)]
        self._signup_cum = list(accumulate(signup))

    def busy_day(self, rng: random.Random, first: int, last: int) -> int:
        """A day in [first, last], busier days (seasons, weekends) more likely."""
        return _weighted_index(rng, self._busy_cum, first, last)

    def signup_day(self, rng: random.Random, first: int, last: int) -> int:
        return _weighted_index(rng, self._signup_cum, first, last)


def _weighted_index(rng: random.Random, cum: list[float], first: int, last: int) -> int:
    below = cum[first - 1] if first > 0 else 0.0
    point = below + rng.random() * (cum[last] - below)
    return min(bisect.bisect_right(cum, point, first, last + 1), last)


# --- names, places, words ------------------------------------------------------------------------------

FAMILY_NAMES = (
    ("Sato", "佐藤"), ("Suzuki", "鈴木"), ("Takahashi", "高橋"), ("Tanaka", "田中"), ("Watanabe", "渡辺"),
    ("Ito", "伊藤"), ("Yamamoto", "山本"), ("Nakamura", "中村"), ("Kobayashi", "小林"), ("Kato", "加藤"),
    ("Yoshida", "吉田"), ("Yamada", "山田"), ("Sasaki", "佐々木"), ("Yamaguchi", "山口"),
    ("Matsumoto", "松本"), ("Inoue", "井上"), ("Kimura", "木村"), ("Hayashi", "林"), ("Shimizu", "清水"),
    ("Yamazaki", "山崎"), ("Mori", "森"), ("Abe", "阿部"), ("Ikeda", "池田"), ("Hashimoto", "橋本"),
    ("Ishikawa", "石川"), ("Ogawa", "小川"), ("Fujita", "藤田"), ("Okada", "岡田"), ("Goto", "後藤"),
    ("Hasegawa", "長谷川"), ("Murakami", "村上"), ("Kondo", "近藤"), ("Ishii", "石井"), ("Saito", "斎藤"),
    ("Sakamoto", "坂本"), ("Endo", "遠藤"), ("Aoki", "青木"), ("Fujii", "藤井"), ("Nishimura", "西村"),
    ("Fukuda", "福田"),
)  # fmt: skip
FEMALE_NAMES = (
    ("Hanako", "花子"), ("Yui", "結衣"), ("Aoi", "葵"), ("Sakura", "さくら"), ("Haruka", "遥"),
    ("Misaki", "美咲"), ("Yuki", "由紀"), ("Naoko", "直子"), ("Keiko", "恵子"), ("Tomoko", "智子"),
    ("Yoko", "洋子"), ("Mai", "舞"), ("Ayaka", "彩花"), ("Emi", "恵美"), ("Rina", "里奈"), ("Mio", "美緒"),
    ("Kaori", "香織"), ("Akiko", "明子"), ("Chiharu", "千春"), ("Natsumi", "夏美"),
)  # fmt: skip
MALE_NAMES = (
    ("Taro", "太郎"), ("Haruto", "陽翔"), ("Ren", "蓮"), ("Sota", "蒼太"), ("Hiroshi", "浩"),
    ("Takeshi", "武"), ("Kenji", "健二"), ("Daisuke", "大輔"), ("Shota", "翔太"), ("Yuto", "悠斗"),
    ("Kenta", "健太"), ("Makoto", "誠"), ("Akira", "明"), ("Ryo", "涼"), ("Satoshi", "聡"),
    ("Kazuki", "和樹"), ("Yusuke", "祐介"), ("Tatsuya", "達也"), ("Koji", "浩二"), ("Minoru", "稔"),
)  # fmt: skip
PREFECTURES = (
    ("東京都", 10), ("神奈川県", 6), ("大阪府", 6), ("愛知県", 4), ("埼玉県", 4), ("千葉県", 4),
    ("兵庫県", 3), ("京都府", 3), ("福岡県", 3), ("北海道", 3), ("静岡県", 2), ("広島県", 2),
    ("宮城県", 2), ("奈良県", 1), ("長野県", 1),
)  # fmt: skip
_PREFECTURE_CUM = tuple(accumulate(weight for _, weight in PREFECTURES))

COMMENTS = {
    "ja": {
        "promoter": (
            "香りがとても良く、毎朝楽しんでいます。",
            "梱包が丁寧で、贈り物にも安心して使えました。",
            "抹茶の色と味が素晴らしいです。また注文します！",
            "届くのが早くて助かりました。",
        ),
        "passive": (
            "美味しかったですが、配送に少し時間がかかりました。",
            "もう少し小さいサイズがあると嬉しいです。",
            "味は好みでしたが、値段が少し高めに感じます。",
        ),
        "detractor": (
            "茶葉が少し古く感じました。",
            "箱が潰れて届きました。",
            "注文と違う商品が届きました。",
        ),
    },
    "en": {
        "promoter": (
            "Lovely aroma, I have a cup every morning.",
            "Beautifully packed, perfect as a gift.",
            "The matcha is vivid and smooth. Will order again!",
        ),
        "passive": (
            "Tasty, but shipping took a while.",
            "Would love smaller sizes to try more teas.",
        ),
        "detractor": (
            "The leaves tasted a bit stale.",
            "The box arrived crushed.",
            "I received the wrong item.",
        ),
    },
}
REFUND_REASONS = ("damaged in transit", "wrong item", "changed mind", "arrived late")


# --- the result -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoShop:
    start: date  # first day
    days: int  # number of days covered
    customers: int
    events_by_day: tuple[tuple[date, tuple[dict, ...]], ...]  # sorted by day, each day by occurred_at

    def all_events(self) -> Iterator[dict]:
        for _, events in self.events_by_day:
            yield from events

    def counts(self) -> dict[str, int]:
        """Events per type, in the order of docs/events.md; types that never occur are left out."""
        counted = Counter(event["type"] for event in self.all_events())
        return {kind: counted[kind] for kind in EVENT_TYPES if counted[kind]}


def generate(
    seed: int = 7, customers: int = 2000, start: date = date(2025, 5, 1), days: int = 548
) -> DemoShop:
    """The whole shop, from one seed: same arguments, same events."""
    if customers < 0 or days < 1:
        raise ValueError("customers must be >= 0 and days >= 1")
    shop = _Shop(random.Random(seed), start, days)
    people = [shop.new_customer(index) for index in range(1, customers + 1)]
    for person in people:
        shop.live(person)
    shop.add_referrals(people)
    shop.add_erasures(people)
    return DemoShop(start=start, days=days, customers=customers, events_by_day=shop.by_day(people))


# --- the simulation -------------------------------------------------------------------------------------


@dataclass
class _Customer:
    id: str
    email: str
    first_name: str
    last_name: str
    locale: str
    timezone: str
    persona: str
    signup_day: int
    accepts_marketing: bool
    birthday: str | None
    region: str
    favourites: tuple[Product, ...]
    timeline: list[tuple[datetime, dict]] = field(default_factory=list)
    orders: list[tuple[datetime, str]] = field(default_factory=list)  # (when, order_id)
    silent_after: datetime | None = None  # lapsed or erased: nothing is sent after this
    referral_involved: bool = False

    @property
    def ref(self) -> dict:
        return {"id": self.id, "email": self.email}


class _Ids:
    """Unique ids, one counter per prefix. Event ids drawn here are provisional: customers live one
    after the other, so the final numbers are given in time order by `_number_in_time_order`."""

    def __init__(self) -> None:
        self._next: Counter[str] = Counter()

    def number(self, prefix: str) -> str:
        self._next[prefix] += 1
        return f"{self._next[prefix]:06d}"

    def next(self, prefix: str) -> str:
        return f"{prefix}-{self.number(prefix)}"


class _Shop:
    def __init__(self, rng: random.Random, start: date, days: int) -> None:
        self.rng = rng
        self.days = days
        self.calendar = _Calendar(start, days)
        self.ids = _Ids()
        self.start_at = datetime.combine(start, time(), JST)
        self.end_at = self.start_at + timedelta(days=days)
        self._emails: set[str] = set()

    # -- people --

    def new_customer(self, index: int) -> _Customer:
        rng = self.rng
        persona = rng.choices(list(PERSONA_SHARES), weights=list(PERSONA_SHARES.values()))[0]
        english = rng.random() < ENGLISH_SHARE
        abroad = rng.random() < (0.25 if english else LOS_ANGELES_SHARE * 0.7)
        family = rng.choice(FAMILY_NAMES)
        given = rng.choice(FEMALE_NAMES if rng.random() < FEMALE_SHARE else MALE_NAMES)
        # Japanese speakers mostly register in kanji; English speakers (and some others) in romaji
        script = 0 if english or rng.random() < 0.3 else 1
        return _Customer(
            id=f"c-{index:05d}",
            email=self._email(given[0], family[0], english),
            first_name=given[script],
            last_name=family[script],
            locale="en" if english else "ja",
            timezone=LOS_ANGELES if abroad else TOKYO,
            persona=persona,
            signup_day=self._signup_day(persona),
            accepts_marketing=rng.random() < MARKETING_CONSENT_SHARE,
            birthday=self._birthday() if rng.random() < BIRTHDAY_SHARE else None,
            region="CA" if abroad else PREFECTURES[_pick(rng, _PREFECTURE_CUM)][0],
            favourites=tuple(self._product() for _ in range(rng.randint(2, 4))),
        )

    def _email(self, given: str, family: str, english: bool) -> str:
        rng = self.rng
        given, family = given.lower(), family.lower()
        local = rng.choice(
            (f"{given}.{family}", f"{family}.{given}", f"{given[0]}{family}", f"{given}_{family[0]}")
        )
        domain = "example.com" if english or rng.random() < 0.2 else "example.jp"
        candidate = f"{local}@{domain}"
        while candidate in self._emails:
            candidate = f"{local}{rng.randint(1, 999)}@{domain}"
        self._emails.add(candidate)
        return candidate

    def _birthday(self) -> str:
        born = date(1950, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 55))
        return born.isoformat()

    def _signup_day(self, persona: str) -> int:
        last = self.days - 1
        if persona in (LOYAL, OCCASIONAL):
            # repeat buyers are found all year round; an early tilt would make them dominate the volume
            return self.calendar.busy_day(self.rng, 0, last)
        if persona == LAPSING:
            # they need room for a few orders and then a long silence before the end
            last = max(0, self.days - LAPSE_QUIET_DAYS - LAPSE_MARGIN_DAYS - 90)
        return self.calendar.signup_day(self.rng, 0, last)

    def _product(self) -> Product:
        return CATALOG[_pick(self.rng, _CATALOG_CUM)]

    # -- a life --

    def live(self, c: _Customer) -> None:
        rng = self.rng
        if rng.random() < EMAIL_FIRST_SHARE and c.signup_day >= 2:
            self._views_before_signup(c)
        signed_up = self._moment(c, c.signup_day)
        self._emit(c, "cust", "customer.updated", signed_up, self._profile(c, signed_up))
        order_days = self._order_days(c)
        if c.persona == LAPSING:
            c.silent_after = (
                self.start_at + timedelta(days=self.days - LAPSE_QUIET_DAYS) - timedelta(seconds=1)
            )
        previous_day, last_seen = c.signup_day, signed_up
        for n, day in enumerate(order_days, start=1):
            self._between_orders(c, previous_day, day)
            at = self._moment(c, day)
            if day == c.signup_day:  # signed up at the checkout, or just before buying
                at = signed_up + timedelta(minutes=rng.randint(2, 25))
            last_seen = self._order_session(c, at, n)
            previous_day = day
        self._after_orders(c, previous_day, last_seen)
        if rng.random() < CONSENT_CHANGE_SHARE:
            self._consent_change(c)

    def _order_days(self, c: _Customer) -> list[int]:
        rng, last_day = self.rng, self.days - 1
        if c.persona == BROWSER:
            return []
        if c.persona == ONE_TIME:
            day = c.signup_day if rng.random() < 0.7 else c.signup_day + rng.randint(1, 20)
            return [day] if day <= last_day else []
        first = c.signup_day if rng.random() < 0.5 else c.signup_day + rng.randint(1, 14)
        if c.persona == LOYAL:
            cadence = rng.uniform(130, 170)  # each regular has their own rhythm
            days = _rhythm(first, last_day, lambda: round(rng.gauss(cadence, cadence * 0.15)), 90, 220)
        elif c.persona == OCCASIONAL:
            cadence = rng.uniform(260, 380)
            days = _rhythm(first, last_day, lambda: round(rng.gauss(cadence, 25)), 180, 380)
        else:  # lapsing: a few orders early on, then nothing
            last_allowed = self.days - LAPSE_QUIET_DAYS - LAPSE_MARGIN_DAYS
            planned = rng.choices((2, 3), (70, 30))[0]
            days = _rhythm(first, last_allowed, lambda: rng.randint(20, 50), 20, 50)[:planned]
        return sorted(set(days + self._gift_days(c, days)))

    def _gift_days(self, c: _Customer, days: list[int]) -> list[int]:
        """Extra orders in the gift seasons from customers who already know the shop."""
        if not days:
            return []
        chance = {LOYAL: 0.08, OCCASIONAL: 0.04, LAPSING: 0.03}[c.persona]
        last_active = days[-1] if c.persona == LAPSING else self.days - 1
        extra = []
        for _season, first, last in self.calendar.seasons:
            if days[0] < first and last <= last_active and self.rng.random() < chance:
                extra.append(self.calendar.busy_day(self.rng, first, last))
        return extra

    def _between_orders(self, c: _Customer, after: int, before: int) -> None:
        """Abandoned carts and browsing without buying, somewhere between two orders."""
        rng = self.rng
        if before - after < 2:
            return
        if rng.random() < ABANDONED_CART_PER_ORDER:
            self._abandoned_cart(c, self._moment(c, rng.randint(after + 1, before - 1)))
        if rng.random() < BROWSE_ONLY_PER_ORDER:
            self._browse(c, self._moment(c, rng.randint(after + 1, before - 1)), rng.randint(1, 3))

    def _after_orders(self, c: _Customer, since_day: int, since: datetime) -> None:
        """What non-buyers and one-time buyers do: look around, sometimes fill a cart and leave."""
        rng = self.rng
        if c.persona == BROWSER:
            sessions = 1
        elif c.persona == ONE_TIME and c.orders:
            sessions = rng.choices((0, 1), (75, 25))[0]
        else:
            return
        for _ in range(sessions):
            day = rng.randint(since_day, min(self.days - 1, since_day + 200))
            at = self._moment(c, day)
            if at <= since:  # the same day as the signup or the order: come back later that day
                at = since + timedelta(minutes=rng.randint(10, 180))
            if rng.random() < 0.3:
                self._abandoned_cart(c, at)
            else:
                self._browse(c, at, rng.randint(1, 2))

    def _consent_change(self, c: _Customer) -> None:
        first = c.signup_day + 7
        if first >= self.days:
            return
        at = self._moment(c, self.rng.randint(first, self.days - 1))
        c.accepts_marketing = not c.accepts_marketing
        self._emit(c, "cust", "customer.updated", at, {"accepts_marketing": c.accepts_marketing})

    # -- sessions --

    def _views_before_signup(self, c: _Customer) -> None:
        rng = self.rng
        day = max(0, c.signup_day - rng.randint(1, 21))
        at = self._moment(c, day)
        for product in [self._product() for _ in range(rng.randint(1, 2))]:
            self._emit(c, "view", "product.viewed", at, _view_data(product), ref={"email": c.email})
            at += timedelta(seconds=rng.randint(20, 240))

    def _browse(self, c: _Customer, at: datetime, views: int) -> datetime:
        for product in [self._interest(c) for _ in range(views)]:
            self._emit(c, "view", "product.viewed", at, _view_data(product), ref=self._light_ref(c))
            at += timedelta(seconds=self.rng.randint(20, 240))
        return at

    def _abandoned_cart(self, c: _Customer, at: datetime) -> None:
        rng = self.rng
        lines = self._basket(c, None)
        at = self._browse_items(c, at, lines, rng.randint(1, 2))
        self._cart(c, at, lines)
        if rng.random() < 0.25:  # some get as far as the checkout
            self._checkout(c, at + timedelta(minutes=rng.randint(1, 6)), lines)

    def _order_session(self, c: _Customer, at: datetime, nth: int) -> datetime:
        """Product pages, maybe a cart, usually a checkout, the order; then maybe a refund or an answer.

        Answers when the order was placed."""
        rng = self.rng
        season = self.calendar.season[min((at.date() - self.calendar.start).days, self.days - 1)]
        if nth > 1 and c.persona in (LOYAL, OCCASIONAL) and rng.random() < BUY_AGAIN_RATE:
            lines = [(product, 1) for product in rng.sample(c.favourites, rng.randint(1, 2))]
        else:
            lines = self._basket(c, season)
            at = self._browse_items(c, at, lines, rng.choices(*VIEWS_BEFORE_ORDER)[0])
        if rng.random() < CART_BEFORE_ORDER_RATE:
            self._cart(c, at, lines)
            at += timedelta(minutes=rng.randint(1, 6))
        if rng.random() < CHECKOUT_RATE:
            self._checkout(c, at, lines)
            at += timedelta(minutes=rng.randint(2, 9))
        order = self._order(c, at, lines, nth, season)
        if rng.random() < REFUND_RATE:
            self._refund(c, at, order)
        if rng.random() < FEEDBACK_RATE:
            self._feedback(c, at, order["order_id"])
        if rng.random() < LOYALTY_JOIN_CHANCE.get((c.persona, nth), 0.0):
            self._emit(c, "loy", "loyalty.joined", at + timedelta(minutes=3), {"program": LOYALTY_PROGRAM})
        return at

    def _browse_items(
        self, c: _Customer, at: datetime, lines: list[tuple[Product, int]], views: int
    ) -> datetime:
        """Product pages seen before a cart: the products bought first, then others considered."""
        seen = [product for product, _ in lines][:views]
        seen += [self._interest(c) for _ in range(views - len(seen))]
        for product in seen:
            self._emit(c, "view", "product.viewed", at, _view_data(product), ref=self._light_ref(c))
            at += timedelta(seconds=self.rng.randint(20, 240))
        return at

    def _cart(self, c: _Customer, at: datetime, lines: list[tuple[Product, int]]) -> None:
        cart_id = f"k-{self.ids.number('cartid')}"
        data = {"cart_id": cart_id, **_lines_data(lines), "url": f"{SHOP_URL}/cart/{cart_id}"}
        self._emit(c, "cart", "cart.updated", at, data)

    def _checkout(self, c: _Customer, at: datetime, lines: list[tuple[Product, int]]) -> None:
        data = {"checkout_id": f"co-{self.ids.number('checkoutid')}", **_lines_data(lines)}
        self._emit(c, "chk", "checkout.started", at, data)

    def _order(
        self, c: _Customer, at: datetime, lines: list[tuple[Product, int]], nth: int, season: Season | None
    ) -> dict:
        rng = self.rng
        subtotal = sum(product.price * quantity for product, quantity in lines)
        codes = []
        if nth == 1 and rng.random() < WELCOME_CODE_RATE:
            codes.append("WELCOME10")
        elif season and rng.random() < SEASON_CODE_RATE:
            codes.append(season.code)
        discount = sum(subtotal * CODE_PERCENT[code] // 100 for code in codes)
        abroad = c.timezone != TOKYO
        shipping = SHIPPING_ABROAD if abroad else (0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING_JP)
        order_id = self.ids.number("ord")
        data = {
            "order_id": order_id,
            "total": str(subtotal - discount + shipping),
            "subtotal": str(subtotal),
            "shipping": str(shipping),
            "currency": CURRENCY,
            "items": _lines_data(lines)["items"],
            "discount_codes": codes,
        }
        self._emit(c, "ord", "order.placed", at, data, event_id=f"ord-{order_id}")
        c.orders.append((at, order_id))
        return data

    def _refund(self, c: _Customer, ordered: datetime, order: dict) -> None:
        rng = self.rng
        at = ordered + timedelta(days=rng.randint(2, 14), minutes=rng.randint(0, 600))
        total = int(order["total"])
        # half give everything back; the others one item (never more than was paid, discounts included)
        full = rng.random() < 0.5 or len(order["items"]) == 1
        amount = total if full else min(int(order["items"][0]["price"]), total)
        data = {
            "order_id": order["order_id"],
            "amount": str(amount),
            "currency": CURRENCY,
            "reason": rng.choice(REFUND_REASONS),
        }
        self._emit(c, "rfd", "order.refunded", at, data)

    def _feedback(self, c: _Customer, ordered: datetime, order_id: str) -> None:
        """The shop's own NPS mail goes out a week after the order; some answer it."""
        rng = self.rng
        day = (ordered.date() - self.calendar.start).days + rng.randint(6, 9)
        score = rng.choices(range(11), NPS_SCORE_WEIGHTS)[0]
        data: dict = {"survey": "nps", "score": score, "order_id": order_id}
        if rng.random() < COMMENT_RATE:
            band = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
            data["comment"] = rng.choice(COMMENTS[c.locale][band])
        self._emit(c, "fb", "feedback.submitted", self._moment(c, day), data)

    # -- baskets --

    def _interest(self, c: _Customer) -> Product:
        """Regulars come back for their favourites; everyone wanders off to the rest now and then."""
        return self.rng.choice(c.favourites) if self.rng.random() < 0.55 else self._product()

    def _basket(self, c: _Customer, season: Season | None) -> list[tuple[Product, int]]:
        rng = self.rng
        lines: dict[str, tuple[Product, int]] = {}
        if season and rng.random() < 0.7:
            gift = _BY_SLUG[rng.choice(season.gifts)]
            lines[gift.slug] = (gift, rng.choices((1, 2, 3, 5), (50, 25, 15, 10))[0])  # one per recipient
        for _ in range(rng.choices((1, 2, 3), (55, 32, 13))[0]):
            product = self._interest(c)
            if product.slug not in lines:
                lines[product.slug] = (product, rng.choices((1, 2, 3), (80, 15, 5))[0])
        return list(lines.values())

    # -- after everyone has lived --

    def add_referrals(self, people: list[_Customer]) -> None:
        """A handful of buyers came on a regular's recommendation; the regular gets the credit."""
        rng = self.rng
        regulars = [c for c in people if c.persona == LOYAL]
        buyers = [c for c in people if c.orders and c.persona != LOYAL]
        wanted = round(len(people) * REFERRAL_SHARE)
        for referred in rng.sample(buyers, min(wanted, len(buyers))):
            first_order_at, order_id = referred.orders[0]
            known_before = [c for c in regulars if c.signup_day + 7 < referred.signup_day]
            if not known_before:
                continue
            referrer = rng.choice(known_before)
            data = {
                "referred_customer_id": referred.id,
                "referred_email": referred.email,
                "order_id": order_id,
            }
            self._emit(referrer, "ref", "referral.completed", first_order_at + timedelta(minutes=5), data)
            referrer.referral_involved = referred.referral_involved = True

    def add_erasures(self, people: list[_Customer]) -> None:
        """A few customers ask to be forgotten, some weeks after their last visit; then they are gone."""
        rng = self.rng
        last_day = self.end_at - timedelta(days=1)
        candidates = [
            c
            for c in people
            if c.persona in (ONE_TIME, BROWSER, OCCASIONAL)
            and not c.referral_involved
            and _last_event_at(c) + timedelta(days=90) < last_day
        ]
        wanted = min(round(len(people) * DELETION_SHARE), len(candidates))
        for c in rng.sample(candidates, wanted):
            at = _last_event_at(c) + timedelta(days=rng.randint(14, 90), minutes=rng.randint(0, 600))
            self._emit(c, "del", "customer.deleted", at, {"reason": "erasure request"})
            c.silent_after = at

    def by_day(self, people: list[_Customer]) -> tuple[tuple[date, tuple[dict, ...]], ...]:
        sent = [
            (event["occurred_at"], event["id"], event)
            for c in people
            for at, event in c.timeline
            # lives run past the window's edges; the shop only sends what fell inside, while it knew them
            if self.start_at <= at < self.end_at and (c.silent_after is None or at <= c.silent_after)
        ]
        sent.sort(key=lambda row: row[:2])
        events = [event for _, _, event in sent]
        _number_in_time_order(events)
        days: dict[date, list[dict]] = {}
        for event in events:
            days.setdefault(date.fromisoformat(event["occurred_at"][:10]), []).append(event)
        return tuple((day, tuple(events_of_day)) for day, events_of_day in days.items())

    # -- plumbing --

    def _moment(self, c: _Customer, day: int) -> datetime:
        """A believable time on `day` of the window, on the customer's own clock, in Tokyo time."""
        rng = self.rng
        hour = _pick(rng, _HOUR_CUM)
        minute, second = rng.randrange(60), rng.randrange(60)
        local_day = self.calendar.start + timedelta(days=day)
        if c.timezone == TOKYO:
            return datetime.combine(local_day, time(hour, minute, second), JST)
        local = datetime.combine(local_day, time(hour, minute, second), ZoneInfo(c.timezone))
        return local.astimezone(JST)

    def _profile(self, c: _Customer, signed_up: datetime) -> dict:
        data = {
            "email": c.email,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "locale": c.locale,
            "timezone": c.timezone,
            "signed_up_at": signed_up.isoformat(),
            "accepts_marketing": c.accepts_marketing,
            "address": {"region": c.region, "country": "US" if c.timezone == LOS_ANGELES else "JP"},
        }
        if c.birthday:
            data["birthday"] = c.birthday
        return data

    def _light_ref(self, c: _Customer) -> dict:
        # storefront tracking often knows only the logged-in customer's id
        return {"id": c.id} if self.rng.random() < 0.4 else c.ref

    def _emit(
        self,
        c: _Customer,
        prefix: str,
        kind: str,
        at: datetime,
        data: dict,
        ref: dict | None = None,
        event_id: str | None = None,
    ) -> None:
        event = {
            "id": event_id or self.ids.next(prefix),
            "type": kind,
            "occurred_at": at.isoformat(),
            "customer": ref or c.ref,
            "data": data,
        }
        c.timeline.append((at, event))


def _rhythm(first: int, last: int, gap: Callable[[], int], low: int, high: int) -> list[int]:
    """Days from `first` to `last`, spaced by `gap()` clamped to [low, high]."""
    days, day = [], first
    while day <= last:
        days.append(day)
        day += max(low, min(high, gap()))
    return days


def _pick(rng: random.Random, cum: tuple[float, ...]) -> int:
    return bisect.bisect_right(cum, rng.random() * cum[-1])


def _view_data(product: Product) -> dict:
    return {
        "product_id": product.id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": str(product.price),
        "currency": CURRENCY,
        "url": f"{SHOP_URL}/products/{product.slug}",
        "image_url": f"{SHOP_URL}/images/{product.slug}.jpg",
    }


def _lines_data(lines: list[tuple[Product, int]]) -> dict:
    items = [
        {
            "product_id": product.id,
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "price": str(product.price),
            "quantity": quantity,
        }
        for product, quantity in lines
    ]
    total = sum(product.price * quantity for product, quantity in lines)
    return {"currency": CURRENCY, "items": items, "total": str(total)}


def _number_in_time_order(events: list[dict]) -> None:
    """Renumber events (sorted by time) so that "ord-000001" is the shop's first order, as a real shop's
    numbers would run, and point refunds, feedback and referrals at their order's new number."""
    counters: Counter[str] = Counter()
    order_ids: dict[str, str] = {}
    for event in events:
        prefix = event["id"].split("-", 1)[0]
        counters[prefix] += 1
        number = f"{counters[prefix]:06d}"
        event["id"] = f"{prefix}-{number}"
        if event["type"] == "order.placed":
            order_ids[event["data"]["order_id"]] = number
            event["data"]["order_id"] = number
        elif "order_id" in event["data"]:  # always after the order it speaks of
            event["data"]["order_id"] = order_ids[event["data"]["order_id"]]


def _last_event_at(c: _Customer) -> datetime:
    return max(at for at, _ in c.timeline)
