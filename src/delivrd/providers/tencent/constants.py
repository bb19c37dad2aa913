"""What Tencent documents that delivrd's command line names: apart from the decoder and the SDK, so that
`delivrd --help` can show it without importing either."""

#: where Tencent Cloud's SMS API answers, by default
DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com"
DEFAULT_REGION = "ap-guangzhou"
#: Tencent sends at most this many reports in one push
MAX_BATCH = 100
