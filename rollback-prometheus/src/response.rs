//! The JSON envelope of the Prometheus HTTP API and its conversion to [`Series`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rollback_core::{Sample, Series};

/// `{"status": "success"|"error", "data": …, "errorType": …, "error": …, "warnings": […]}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ApiResponse {
    pub status: String,
    #[serde(default)]
    pub data: Option<Data>,
    #[serde(default, rename = "errorType")]
    pub error_type: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub infos: Vec<String>,
}

/// `data` of a query answer.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub(crate) enum Data {
    Matrix(Vec<MatrixItem>),
    Vector(Vec<VectorItem>),
    Scalar(RawSample),
    String(serde::de::IgnoredAny),
}

/// `[<unix seconds>, "<value>"]`.
pub(crate) type RawSample = (f64, String);

#[derive(Debug, serde::Deserialize)]
pub(crate) struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Float samples; a native-histogram series has `histograms` instead, which we skip.
    #[serde(default)]
    values: Vec<RawSample>,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<RawSample>,
}

/// Converts the answer's data to series. Every series returned has at least one sample; an
/// empty result stays empty (no data), it is never turned into zeros.
pub(crate) fn into_series(data: Data) -> Result<Vec<Series>, String> {
    match data {
        Data::Matrix(items) => items
            .into_iter()
            .filter(|i| !i.values.is_empty())
            .map(|i| {
                let samples = i.values.iter().map(sample).collect::<Result<Vec<_>, _>>()?;
                Ok(Series {
                    labels: i.metric,
                    samples,
                })
            })
            .collect(),
        Data::Vector(items) => items
            .into_iter()
            .filter_map(|i| i.value.map(|v| (i.metric, v)))
            .map(|(labels, v)| {
                Ok(Series {
                    labels,
                    samples: vec![sample(&v)?],
                })
            })
            .collect(),
        Data::Scalar(v) => Ok(vec![Series::new(vec![sample(&v)?])]),
        Data::String(_) => Err(
            "the query evaluates to a string: expected an instant vector, range vector or scalar"
                .into(),
        ),
    }
}

fn sample((ts, value): &RawSample) -> Result<Sample, String> {
    let millis = (ts * 1000.0).round();
    let at = if millis.is_finite() && millis.abs() < 1e15 {
        DateTime::<Utc>::from_timestamp_millis(millis as i64)
    } else {
        None
    }
    .ok_or_else(|| format!("sample timestamp {ts} is not a valid Unix time"))?;
    Ok(Sample {
        at,
        value: parse_value(value)?,
    })
}

/// Parses a Prometheus sample value: a decimal, `NaN`, `+Inf`, `-Inf`.
pub(crate) fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => v
            .parse::<f64>()
            .map_err(|_| format!("sample value {v:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Vec<Series> {
        let r: ApiResponse = serde_json::from_str(json).expect("json");
        into_series(r.data.expect("data")).expect("series")
    }

    #[test]
    fn matrix_answer_becomes_labelled_series_with_special_values() {
        let s = parse(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"code":"500"},"values":[[1700000000,"1.5"],[1700000060.5,"NaN"],
                 [1700000120,"+Inf"],[1700000180,"-Inf"]]}]}}"#,
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].labels["code"], "500");
        let v: Vec<f64> = s[0].samples.iter().map(|x| x.value).collect();
        assert_eq!(v[0], 1.5);
        assert!(v[1].is_nan());
        assert_eq!(v[2], f64::INFINITY);
        assert_eq!(v[3], f64::NEG_INFINITY);
        assert_eq!(s[0].samples[1].at.timestamp_millis(), 1_700_000_060_500);
    }

    #[test]
    fn vector_and_scalar_answers_become_one_sample_series() {
        let s = parse(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{},"value":[1700000000,"0.2"]}]}}"#,
        );
        assert_eq!(s[0].samples[0].value, 0.2);
        let s = parse(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}"#);
        assert_eq!(s[0].samples[0].value, 3.0);
    }

    #[test]
    fn empty_result_is_no_data_not_zero() {
        assert!(
            parse(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#).is_empty()
        );
        assert!(
            parse(r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#).is_empty()
        );
    }

    #[test]
    fn native_histogram_samples_are_skipped() {
        let s = parse(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}}"#,
        );
        assert!(s.is_empty());
    }

    #[test]
    fn non_numeric_value_and_string_result_are_errors() {
        let r: ApiResponse = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{},"value":[1,"abc"]}]}}"#,
        )
        .expect("json");
        let err = into_series(r.data.expect("data")).expect_err("abc");
        assert!(err.contains("\"abc\""), "{err}");
        let r: ApiResponse = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
        )
        .expect("json");
        assert!(into_series(r.data.expect("data")).is_err());
    }
}
