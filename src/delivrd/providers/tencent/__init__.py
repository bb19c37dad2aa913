"""Tencent Cloud SMS: its callback bodies, receipt codes and SendSms client."""
