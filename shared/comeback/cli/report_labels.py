"""The HTML report's words, in English and Japanese (`report_html.render_html(lang=...)`)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "ja"]
LANGS: tuple[Lang, ...] = ("en", "ja")

LABELS: dict[str, dict[str, str]] = {
    "title": {"en": "Customer retention report", "ja": "顧客リテンションレポート"},
    "shop": {"en": "Shop", "ja": "ショップ"},
    "generated_at": {"en": "Generated", "ja": "作成日時"},
    "currency": {"en": "Currency", "ja": "通貨"},
    "contents": {"en": "Contents", "ja": "目次"},
    "no_data": {"en": "no data yet", "ja": "まだデータがありません"},
    "no_sections": {"en": "This report holds no section.", "ja": "このレポートには項目がありません。"},
    "errors": {"en": "Errors", "ja": "エラー"},
    # sections
    "retention": {"en": "Retention", "ja": "リテンション"},
    "cohorts": {"en": "Cohorts", "ja": "コホート"},
    "rfm": {"en": "RFM segments", "ja": "RFMセグメント"},
    "clv": {"en": "Customer lifetime value", "ja": "顧客生涯価値 (CLV)"},
    "predictions": {"en": "Predictions", "ja": "予測"},
    "recipes": {"en": "Campaigns", "ja": "キャンペーン"},
    "calendar": {"en": "Calendar", "ja": "配信カレンダー"},
    # retention
    "month": {"en": "Month", "ja": "月"},
    "rate": {"en": "Rate", "ja": "率"},
    "customers": {"en": "Customers", "ja": "顧客数"},
    "revenue": {"en": "Revenue", "ja": "売上"},
    "retention_churn": {"en": "Retention and churn rate by month", "ja": "月別のリテンション率と離脱率"},
    "retention_rate": {"en": "Retention rate", "ja": "リテンション率"},
    "churn_rate": {"en": "Churn rate", "ja": "離脱率"},
    "active_new": {"en": "Active and new customers by month", "ja": "月別のアクティブ顧客と新規顧客"},
    "active_customers": {"en": "Active customers", "ja": "アクティブ顧客"},
    "new_customers": {"en": "New customers", "ja": "新規顧客"},
    "returning_customers": {"en": "Returning customers", "ja": "リピート顧客"},
    "reactivated_customers": {"en": "Reactivated", "ja": "復帰顧客"},
    "revenue_split": {"en": "Revenue from new and returning customers", "ja": "新規顧客とリピート顧客の売上"},
    "revenue_new": {"en": "New customers' revenue", "ja": "新規顧客の売上"},
    "revenue_returning": {"en": "Returning customers' revenue", "ja": "リピート顧客の売上"},
    "orders": {"en": "Orders", "ja": "注文数"},
    "aov": {"en": "Average order value", "ja": "平均注文額"},
    "frequency": {"en": "Purchase frequency", "ja": "購入頻度"},
    "repeat_rate": {"en": "Repeat-purchase rate", "ja": "リピート購入率"},
    "window": {"en": "Customer window (months)", "ja": "顧客とみなす期間 (月)"},
    # cohorts
    "cohort": {"en": "Cohort", "ja": "コホート"},
    "months_since": {"en": "Months since the first order", "ja": "初回注文からの月数"},
    "cohort_share": {"en": "Share of the cohort still ordering", "ja": "注文を続けている顧客の割合"},
    "cohort_revenue": {"en": "Revenue per customer of the cohort", "ja": "コホートの顧客あたり売上"},
    "cohort_by": {"en": "Grouped by", "ja": "グループ"},
    # rfm
    "segment": {"en": "Segment", "ja": "セグメント"},
    "segment_sizes": {"en": "Segment size and value", "ja": "セグメントの規模と価値"},
    "customer_share": {"en": "Share of customers", "ja": "顧客の割合"},
    "revenue_share": {"en": "Share of revenue", "ja": "売上の割合"},
    "average_spent": {"en": "Average spend", "ja": "平均購入額"},
    "recency_days": {"en": "Days since last order", "ja": "最終注文からの日数"},
    "buyers": {"en": "Buyers", "ja": "購入者"},
    "measured_at": {"en": "Measured at", "ja": "計測日時"},
    # clv
    "historic_clv": {"en": "Historic CLV: spend to date", "ja": "実績CLV: これまでの購入額"},
    "predicted_clv": {"en": "Predicted CLV: the next 365 days", "ja": "予測CLV: 今後365日"},
    "spend": {"en": "Spend", "ja": "購入額"},
    "average": {"en": "Average", "ja": "平均"},
    "total": {"en": "Total", "ja": "合計"},
    "percentile": {"en": "Percentile", "ja": "パーセンタイル"},
    "until": {"en": "As of", "ja": "時点"},
    # predictions
    "no_model": {"en": "No model fitted", "ja": "モデルは未作成です"},
    "parameters": {"en": "Model parameters and fit", "ja": "モデルのパラメータと適合度"},
    "parameter": {"en": "Parameter", "ja": "パラメータ"},
    "value": {"en": "Value", "ja": "値"},
    "low_confidence": {"en": "low confidence", "ja": "信頼度: 低"},
    "normal_confidence": {"en": "normal confidence", "ja": "信頼度: 通常"},
    "qualifies": {"en": "Used for predictions", "ja": "予測に使用"},
    "yes": {"en": "yes", "ja": "はい"},
    "no": {"en": "no", "ja": "いいえ"},
    "repeat_histogram": {
        "en": "Customers by repeat orders: actual and as the model expects",
        "ja": "リピート注文回数別の顧客数: 実績とモデルの期待値",
    },
    "repeat_orders": {"en": "Repeat orders", "ja": "リピート注文回数"},
    "actual": {"en": "Actual", "ja": "実績"},
    "expected": {"en": "Expected", "ja": "期待値"},
    "predicted": {"en": "Predicted", "ja": "予測"},
    "p_alive": {"en": "Probability a customer is still active", "ja": "顧客がまだアクティブである確率"},
    "probability": {"en": "P(alive)", "ja": "P(アクティブ)"},
    "backtest": {"en": "Backtest: predicted and actual orders", "ja": "バックテスト: 予測と実際の注文数"},
    "week": {"en": "Week", "ja": "週"},
    "calibration_end": {"en": "Calibration until", "ja": "学習期間の終わり"},
    "holdout_end": {"en": "Holdout until", "ja": "検証期間の終わり"},
    "predicted_total": {"en": "Predicted orders", "ja": "予測注文数"},
    "actual_total": {"en": "Actual orders", "ja": "実際の注文数"},
    "aggregate_error": {"en": "Aggregate error", "ja": "合計の誤差"},
    "mae": {"en": "Mean absolute error per customer", "ja": "顧客あたり平均絶対誤差"},
    "history_days": {"en": "History (days)", "ja": "履歴 (日)"},
    "repeat_customers": {"en": "Repeat customers", "ja": "リピート顧客"},
    "log_likelihood": {"en": "Log-likelihood", "ja": "対数尤度"},
    "histogram_mae": {
        "en": "Histogram error (customers per bin)",
        "ja": "ヒストグラム誤差 (区間あたり顧客数)",
    },
    "fitted_at": {"en": "Fitted at", "ja": "作成日時"},
    # recipes
    "campaign": {"en": "Campaign", "ja": "キャンペーン"},
    "step": {"en": "Step", "ja": "ステップ"},
    "all_steps": {"en": "all steps", "ja": "全ステップ"},
    "variant": {"en": "Variant", "ja": "バリエーション"},
    "sent": {"en": "Sent", "ja": "送信"},
    "delivered": {"en": "Delivered", "ja": "配信"},
    "opened": {"en": "Opened", "ja": "開封"},
    "clicked": {"en": "Clicked", "ja": "クリック"},
    "treated": {"en": "Treated", "ja": "配信群"},
    "holdout": {"en": "Holdout", "ja": "対照群"},
    "reactivated": {"en": "Reactivated", "ja": "復帰"},
    "lift": {"en": "Lift", "ja": "リフト"},
    "lift_chart": {
        "en": "Lift over the holdout with its 95% interval",
        "ja": "対照群に対するリフトと95%信頼区間",
    },
    "interval": {"en": "95% interval", "ja": "95%信頼区間"},
    "detectable": {"en": "Detectable lift", "ja": "検出可能なリフト"},
    "warnings": {"en": "Warnings", "ja": "注意"},
    "no_campaigns": {"en": "No campaign has records yet.", "ja": "記録のあるキャンペーンはまだありません。"},
    # calendar
    "day": {"en": "Day", "ja": "日付"},
    "due": {"en": "Due", "ja": "予定"},
    "held": {"en": "Held", "ja": "保留"},
    "messages": {"en": "Messages", "ja": "メッセージ数"},
    "calendar_chart": {"en": "Messages due per day, by recipe", "ja": "日別の配信予定 (レシピ別)"},
    "recipe": {"en": "Recipe", "ja": "レシピ"},
}

SEGMENT_NAMES: dict[str, dict[str, str]] = {
    "champions": {"en": "Champions", "ja": "優良顧客"},
    "loyal": {"en": "Loyal", "ja": "ロイヤル顧客"},
    "potential_loyalists": {"en": "Potential loyalists", "ja": "ロイヤル候補"},
    "new_customers": {"en": "New customers", "ja": "新規顧客"},
    "promising": {"en": "Promising", "ja": "有望顧客"},
    "need_attention": {"en": "Need attention", "ja": "要注意"},
    "about_to_sleep": {"en": "About to sleep", "ja": "休眠予備軍"},
    "at_risk": {"en": "At risk", "ja": "離脱リスク"},
    "cant_lose": {"en": "Can't lose", "ja": "失いたくない顧客"},
    "hibernating": {"en": "Hibernating", "ja": "休眠顧客"},
    "lost": {"en": "Lost", "ja": "離脱顧客"},
}


def label(key: str, lang: Lang) -> str:
    """The word for `key` in `lang` (English when there is no translation)."""
    words = LABELS[key]
    return words.get(lang) or words["en"]


def segment_name(segment: str, lang: Lang) -> str:
    names = SEGMENT_NAMES.get(segment)
    return (names.get(lang) or names["en"]) if names else segment
