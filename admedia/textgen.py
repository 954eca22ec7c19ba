"""Japanese ad text from templates and phrase lists.

Everything is driven by a caller-supplied ``numpy.random.Generator`` so a world is reproducible
from its seed. The phrase lists are deliberately small and recognisable: the ground truth in
``world.py`` reads the text back (keyword, numbers, appeal words, width, symbols), so a model that
learns from text has something real to find.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Sequence

import numpy as np

HEADLINE_MAX_WIDTH = 30
DESCRIPTION_MAX_WIDTH = 90

# Share of pool assets that deliberately exceed the width limit, as real advertisers submit them.
OVERLONG_RATE = 0.04


def display_width(text: str) -> int:
    """Display width as ad platforms count it: East Asian Wide/Fullwidth characters count 2.

    Counted on the raw text (not NFKC-normalised): a full-width digit costs 2 in the editor.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


@dataclass(frozen=True)
class Industry:
    name: str
    keywords: tuple[str, ...]
    brands: tuple[str, ...]
    products: tuple[str, ...]
    prices: tuple[str, ...]
    # Industry-specific selling points (may contain numbers or appeal words themselves).
    points: tuple[str, ...]
    ships_goods: bool = False  # whether "送料無料" and friends make sense


INDUSTRIES: tuple[Industry, ...] = (
    Industry(
        "美容",
        ("美容液", "化粧水", "脱毛", "エイジングケア", "シャンプー"),
        ("ルミナ", "ハナコスメ", "ベルポー", "シズク", "アユラ"),
        ("美容液", "薬用化粧水", "オールインワンジェル", "医療脱毛", "美容室"),
        ("初回980円", "月額1,980円", "¥2,980", "1回500円", "税込3,300円"),
        ("敏感肌にも", "無添加処方", "皮膚科医監修", "ハリ・ツヤ実感", "毛穴ケア"),
        ships_goods=True,
    ),
    Industry(
        "不動産",
        ("賃貸", "新築マンション", "中古住宅", "不動産売却", "土地探し"),
        ("スマイル不動産", "ミライエ", "住まいるネット", "ホームズン", "アーバンリンク"),
        ("賃貸マンション", "分譲マンション", "一戸建て", "無料査定", "リノベ物件"),
        ("家賃5万円台", "頭金0円", "月々6万円台", "3,980万円〜", "仲介手数料0円"),
        ("駅徒歩5分", "ペット可物件", "物件数10万件", "最短3日で売却", "オンライン内見"),
    ),
    Industry(
        "転職",
        ("転職", "求人", "エンジニア転職", "看護師求人", "派遣"),
        ("キャリアネクスト", "ジョブリンク", "ワークス", "テンプラス", "ハタラボ"),
        ("転職エージェント", "求人サイト", "スカウトサービス", "派遣登録", "キャリア相談"),
        ("登録無料", "年収600万円以上", "時給1,800円", "月収30万円〜", "年収100万円UP"),
        ("非公開求人多数", "年収アップ", "未経験OK", "リモート可", "土日休み"),
    ),
    Industry(
        "旅行",
        ("格安旅行", "ホテル予約", "温泉旅館", "海外旅行", "ツアー"),
        ("タビナビ", "トラベルワン", "ゆめ旅", "ソラトリップ", "ホテルズゴー"),
        ("温泉宿", "沖縄ツアー", "ハワイ旅行", "ビジネスホテル", "国内ツアー"),
        ("1泊5,980円〜", "¥9,800〜", "1人1万円台", "往復2万円〜", "朝食付4,500円"),
        ("早割", "露天風呂付き", "キャンセル無料", "ポイント10倍", "直前割"),
    ),
    Industry(
        "通信",
        ("格安SIM", "光回線", "ポケットWiFi", "スマホ乗り換え", "ネット回線"),
        ("モバイルネオ", "ヒカリエース", "スマートリンク", "ネットワン", "ポケモバ"),
        ("格安SIM", "光回線", "ポケットWiFi", "5Gプラン", "スマホセット"),
        ("月額980円", "月額¥1,980", "月々2,178円", "工事費0円", "初月0円"),
        ("通信速度No.1", "乗り換えで", "データ無制限", "契約期間なし", "最短即日開通"),
    ),
    Industry(
        "教育",
        ("英会話", "オンライン家庭教師", "プログラミング教室", "資格講座", "学習塾"),
        ("マナビー", "スタディプラス", "エデュワン", "ことば塾", "コードキッズ"),
        ("オンライン英会話", "個別指導塾", "プログラミング講座", "通信講座", "資格スクール"),
        ("月額2,980円", "1レッスン200円", "入会金0円", "¥4,980/月", "受講料30%OFF"),
        ("無料体験レッスン", "合格率95%", "講師満足度98%", "24時間受講OK", "初心者歓迎"),
    ),
    Industry(
        "金融",
        ("カードローン", "クレジットカード", "ネット証券", "NISA", "保険見直し"),
        ("ミライ銀行", "スマートカード", "アセットワン", "ほけんナビ", "リンク証券"),
        ("カードローン", "クレジットカード", "つみたてNISA", "医療保険", "FX口座"),
        ("年会費無料", "金利1.5%〜", "手数料0円", "最大5,000円還元", "月々1,000円〜"),
        ("最短即日", "来店不要", "ポイント還元率1%", "口座開設数No.1", "FP無料相談"),
    ),
    Industry(
        "ファッションEC",
        ("レディース服", "メンズ服", "スニーカー", "ワンピース", "バッグ"),
        ("モードマルシェ", "クロゼット", "ノアール", "ステラ", "ウェアハウス"),
        ("ワンピース", "デニム", "スニーカー", "トートバッグ", "ジャケット"),
        ("¥1,980〜", "990円均一", "2点で3,000円", "税込4,990円", "全品1,000円OFF"),
        ("新作入荷", "サイズ交換無料", "翌日お届け", "雑誌掲載", "SNSで話題"),
        ships_goods=True,
    ),
)
INDUSTRY_BY_NAME = {ind.name: ind for ind in INDUSTRIES}

DISCOUNTS = ("最大50%OFF", "半額", "30%OFF", "最大70%OFF", "20%割引", "特別価格", "セール開催中", "10%OFF")
URGENCY = ("本日限定", "今だけ", "期間限定", "先着100名", "残りわずか", "今週末まで")
PROOF = ("満足度98%", "累計100万人", "No.1", "口コミ評価4.8", "利用者数No.1", "人気ランキング1位", "累計50万件")
SHIPPING = ("送料無料", "全品送料無料", "最短翌日お届け", "返品無料")
CTA = ("今すぐ申し込み", "無料で試す", "詳しくはこちら", "今すぐチェック", "まずは無料相談", "お申し込みはこちら", "今すぐ予約")
FILLERS = ("公式サイト", "公式", "おすすめ", "人気", "話題", "安心")

# Templates: {kw} keyword, {brand}, {product}, {price}, {disc}, {urg}, {proof}, {ship}, {cta}, {point}.
HEADLINE_TEMPLATES = (
    "【公式】{brand}",
    "{kw}なら{brand}",
    "{kw}の{brand}",
    "{brand}の{product}",
    "{product}{price}",
    "{disc}{product}",
    "{urg}{disc}",
    "＼{ship}／",
    "{proof}の{kw}",
    "{cta}",
    "{kw}｜{brand}",
    "《{urg}》{disc}",
    "{brand}公式サイト",
    "{price}で始める{kw}",
    "{kw}が{disc}",
    "{proof}！{brand}",
    "【{urg}】{price}",
    "{point}の{product}",
    "{kw}は{point}",
    "{ship}・{point}",
    "{product}",
    "{kw}",
    "{brand}",
    "{filler}{kw}",
    "【{disc}】{kw}",
    "{price}〜{product}",
)

DESCRIPTION_TEMPLATES = (
    "{brand}の{product}は{proof}。{urg}{disc}実施中。{cta}！",
    "{kw}をお探しなら{brand}。{point}、{price}から。{cta}。",
    "{point}で人気の{product}。{ship}でお届けします。",
    "{urg}！{product}が{disc}。{proof}の{brand}で{kw}を始めよう。",
    "{proof}。{point}の{product}を{price}でご提供。{cta}",
    "【{urg}】{kw}なら{brand}の{product}。{ship}・{point}。",
    "{brand}は{point}。{kw}の比較・検討にぜひご活用ください。",
    "{price}〜。{point}。{disc}キャンペーンは{urg}。",
    "初めての方も安心。{point}の{brand}。{cta}。",
    "{kw}選びで迷ったら{brand}。{proof}、{point}。",
    "{product}の詳細は公式サイトで。{cta}！",
    "{ship}！{product}を{disc}でご提供中。{urg}の特典もあります。",
)

# Extra sentences used to make an over-long asset.
PADDING = (
    "※詳しい条件は公式サイトをご確認ください",
    "今なら豪華特典付きのキャンペーンを実施しておりますのでこの機会をお見逃しなく",
    "多数のお客様にご好評いただいております",
    "スタッフ一同心よりお待ちしております",
)

_FW_DIGITS = str.maketrans("0123456789%!", "０１２３４５６７８９％！")
_HW_PUNCT = str.maketrans("！％", "!%")


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    # rng.random() is several times cheaper than rng.integers() per call, and this is the hot loop.
    return items[int(rng.random() * len(items))]


class _Slots(dict):
    """Draws a phrase only for the slots a template uses (in template order: deterministic)."""

    def __init__(self, rng: np.random.Generator, industry: Industry, brand: str, keyword: str,
                 style: "TextStyle | None" = None):
        super().__init__(kw=keyword, brand=brand)
        self.rng, self.industry, self.style = rng, industry, style

    def __missing__(self, key: str) -> str:
        ind, st = self.industry, self.style
        if st is None:
            disc, urg, proof, cta, filler, ship = DISCOUNTS, URGENCY, PROOF, CTA, FILLERS, SHIPPING
        else:
            disc, urg, proof, cta, filler, ship = (st.discounts, st.urgency, st.proof, st.cta, st.fillers,
                                                   st.shipping)
        lists = {"product": ind.products, "price": ind.prices, "disc": disc, "urg": urg,
                 "proof": proof, "cta": cta, "point": ind.points, "filler": filler,
                 # Only shops ship goods; other industries fill the slot with a selling point.
                 "ship": ship if ind.ships_goods else ind.points}
        value = _pick(self.rng, lists[key])
        self[key] = value
        return value


def _fill(template: str, rng: np.random.Generator, industry: Industry, brand: str, keyword: str,
          style: "TextStyle | None" = None) -> str:
    return template.format_map(_Slots(rng, industry, brand, keyword, style))


def _vary_width_forms(text: str, rng: np.random.Generator) -> str:
    """Mix full-width and half-width forms the way hand-typed ads do."""
    u = rng.random()
    if u < 0.2:
        text = text.translate(_FW_DIGITS)  # full-width digits, ％ and ！
    elif u < 0.45:
        text = text.translate(_HW_PUNCT)  # half-width ! and %
    return text


def headline(rng: np.random.Generator, industry: Industry, brand: str, keyword: str,
             overlong: bool = False, max_tries: int = 40, style: "TextStyle | None" = None) -> str:
    """One headline; within HEADLINE_MAX_WIDTH unless ``overlong`` asks for one over the limit.

    ``style`` (default: the phrase lists and templates above) swaps in another vocabulary.
    """
    templates = HEADLINE_TEMPLATES if style is None else style.headline_templates
    min_width = 4 if style is None else style.min_headline_width
    for _ in range(max_tries):
        text = _vary_width_forms(_fill(_pick(rng, templates), rng, industry, brand, keyword, style), rng)
        if rng.random() < 0.12 and not text.endswith(("！", "!")):
            text += "！" if rng.random() < 0.6 else "!"
        w = display_width(text)
        if overlong:
            # Glue a second phrase on until it is over the limit (advertisers do write these).
            while display_width(text) <= HEADLINE_MAX_WIDTH:
                text += _fill(_pick(rng, templates), rng, industry, brand, keyword, style)
            return text
        if min_width <= w <= HEADLINE_MAX_WIDTH:
            return text
    return keyword[: HEADLINE_MAX_WIDTH // 2]


def description(rng: np.random.Generator, industry: Industry, brand: str, keyword: str,
                overlong: bool = False, max_tries: int = 40, style: "TextStyle | None" = None) -> str:
    """One description; within DESCRIPTION_MAX_WIDTH unless ``overlong`` asks for one over the limit."""
    templates = DESCRIPTION_TEMPLATES if style is None else style.description_templates
    padding = PADDING if style is None else style.padding
    min_width = 0 if style is None else style.min_description_width
    text = ""
    for _ in range(max_tries):
        text = _vary_width_forms(_fill(_pick(rng, templates), rng, industry, brand, keyword, style), rng)
        if overlong:
            while display_width(text) <= DESCRIPTION_MAX_WIDTH:
                text += _pick(rng, padding) + "。"
            return text
        if min_width <= display_width(text) <= DESCRIPTION_MAX_WIDTH:
            return text
    return text[: DESCRIPTION_MAX_WIDTH // 2]


def asset_texts(rng: np.random.Generator, industry: Industry, brand: str, keyword: str,
                n: int, kind: str, overlong_rate: float = OVERLONG_RATE,
                style: "TextStyle | None" = None) -> list[str]:
    """``n`` distinct texts of one kind ("HEADLINE" or "DESCRIPTION") for one ad group's pool."""
    base = headline if kind == "HEADLINE" else description
    make = base if style is None else functools.partial(base, style=style)
    out: list[str] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n:
        tries += 1
        text = make(rng, industry, brand, keyword, overlong=bool(rng.random() < overlong_rate))
        if text in seen and tries < 50 * n:
            continue
        if text in seen:  # phrase lists exhausted: make it unique rather than loop forever
            text = f"{text}{len(out)}"
        seen.add(text)
        out.append(text)
    return out


# --------------------------------------------------------------------------------------------
# A shifted vocabulary: a new industry and longer, wordier copy (for drift experiments).
# Nothing above uses it, so the default worlds draw exactly the same texts as before.


@dataclass(frozen=True)
class TextStyle:
    """Templates and appeal phrase lists of one copywriting style, plus minimum widths."""

    headline_templates: tuple[str, ...]
    description_templates: tuple[str, ...]
    discounts: tuple[str, ...]
    urgency: tuple[str, ...]
    proof: tuple[str, ...]
    shipping: tuple[str, ...]
    cta: tuple[str, ...]
    fillers: tuple[str, ...]
    padding: tuple[str, ...]
    min_headline_width: int = 4
    min_description_width: int = 0


# The style every default world uses (headline() and friends use these same lists when style=None).
DEFAULT_STYLE = TextStyle(HEADLINE_TEMPLATES, DESCRIPTION_TEMPLATES, DISCOUNTS, URGENCY, PROOF, SHIPPING, CTA,
                          FILLERS, PADDING)

# An industry absent from INDUSTRIES: its keywords, brands, products, prices and selling points
# appear in no other industry's lists.
SHIFT_INDUSTRY = Industry(
    "ペット用品",
    ("ドッグフード", "キャットフード", "ペットシーツ", "トリミング", "ペットホテル"),
    ("ポチタマ堂", "わんにゃんマルシェ", "しっぽ舎", "にくきゅうラボ", "ペティモ"),
    ("国産無添加ドッグフード", "グレインフリーキャットフード", "消臭ペットシーツ", "シニア犬用サプリ",
     "出張トリミング"),
    ("お試し1袋540円", "定期便2,480円", "1kgあたり798円", "2袋セット3,960円", "月々1,280円から"),
    ("ヒューマングレード原料", "添加物不使用", "獣医師と共同開発", "小分けパックで鮮度長持ち", "食いつき実感",
     "体重管理をサポート"),
    ships_goods=True,
)

# Longer copy: every template strings two or three phrases together, and minimum widths keep the
# short one-phrase headlines and descriptions of the default style out.
SHIFT_STYLE = TextStyle(
    headline_templates=(
        "{product}｜{brand}",
        "{point}の{product}",
        "{kw}なら{point}の{brand}",
        "{proof}の{product}",
        "{disc}｜{product}",
        "【{urg}】{product}",
        "{brand}で{cta}",
        "{price}・{point}",
        "{filler}の{kw}を{price}で",
        "{ship}｜{brand}の{kw}",
        "{kw}は{proof}の{brand}",
        "{product}が{disc}",
        "{brand}の{kw}は{point}",
    ),
    description_templates=(
        "{brand}の{product}は{point}。{proof}の品質を{price}でお届けします。{cta}。",
        "大切な家族のために。{point}の{product}なら{brand}。{ship}、{disc}もご用意しています。",
        "{kw}選びに迷ったら{brand}へ。{filler}の{product}は{proof}。{urg}の{disc}をお見逃しなく。",
        "{urg}!{product}を{price}でお試しいただけます。{point}で毎日の健康を支えます。{cta}。",
        "{proof}。{point}にこだわった{product}を{ship}でお届け。{kw}のことなら{brand}へ。",
        "毎日のごはんを{point}に。{brand}の{product}は{disc}、{ship}。{cta}。",
        "{filler}の{product}が{price}。{point}だから安心して続けられます。{cta}。",
        "{kw}をお探しの飼い主さまへ。{brand}は{proof}、{point}。{urg}、{disc}実施中。",
    ),
    discounts=("定期便ずっと15%OFF", "まとめ買い割引", "2袋目半額", "会員様特別価格", "初回お試し価格"),
    urgency=("数量限定", "季節限定", "予約受付中", "今月末まで", "なくなり次第終了"),
    proof=("獣医師推奨", "愛犬家の9割がリピート", "ペット専門誌で紹介", "販売数3年連続1位", "レビュー星4.7"),
    shipping=("玄関先までお届け", "最短当日発送", "重い袋もご自宅へ配送", "定期便は配送料無料"),
    cta=("お試しセットを申し込む", "愛犬に合うフードを診断", "無料サンプルを請求", "獣医師に相談する",
         "ラインナップを見る"),
    fillers=("獣医師監修", "国産原料", "無着色", "低アレルゲン"),
    padding=("※原材料や給与量はパッケージの表示をご確認ください",
             "ワンちゃんネコちゃんの年齢や体重に合わせてお選びいただけます",
             "飼い主さまからのお問い合わせにはペットケアの専門スタッフがお答えします"),
    min_headline_width=16,
    min_description_width=56,
)
