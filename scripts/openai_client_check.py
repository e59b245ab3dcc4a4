"""Checks a running `mm1 serve` with the official OpenAI Python client (pip package "openai").

Model list, a chat completion with an image (whole and streamed, which must agree), stream usage, legacy
completions, and the 404 for an unknown model. Not part of `mvn test`.

    pip install openai
    ./mm1 init --preset tiny-test --out /tmp/tiny && ./mm1 serve --model /tmp/tiny &
    python3 scripts/openai_client_check.py http://127.0.0.1:8080/v1 tiny
"""
import os
import sys

import openai
from openai import OpenAI

# An 8x8 PNG, red left half, blue right half (written by ImageIO; any PNG/JPEG works).
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAFklEQVR4XmO4YGAARwYJF+CIYWhJAADmmVIBVcZRbwAAAABJRU5ErkJggg=="


def main():
    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/v1"
    model = sys.argv[2] if len(sys.argv) > 2 else "tiny"
    client = OpenAI(base_url=base_url, api_key=os.environ.get("MM1_API_KEY", "none"))
    print("models:", ", ".join(m.id for m in client.models.list().data))

    messages = [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
        {"type": "text", "text": "What is in this image?"},
    ]}]
    whole = client.chat.completions.create(model=model, messages=messages, max_tokens=12, temperature=0)
    text = whole.choices[0].message.content
    print("non-streaming:", repr(text), "finish:", whole.choices[0].finish_reason, "usage:", whole.usage.model_dump())

    streamed, chunks, usage = "", 0, None
    for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=12, temperature=0,
                                                stream=True, stream_options={"include_usage": True}):
        chunks += 1
        usage = chunk.usage or usage
        for c in chunk.choices:
            streamed += c.delta.content or ""
    print("streaming:", repr(streamed), "chunks:", chunks, "usage:", usage.model_dump() if usage else None)
    if streamed != text:
        raise SystemExit("FAILED: streamed text differs from the non-streamed one")
    if usage is None or usage.prompt_tokens != whole.usage.prompt_tokens:
        raise SystemExit("FAILED: stream usage missing or wrong")

    legacy = client.completions.create(model=model, prompt="Once upon a time", max_tokens=5, temperature=0)
    print("legacy completion:", repr(legacy.choices[0].text), "usage:", legacy.usage.model_dump())

    try:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
        raise SystemExit("FAILED: an unknown model was accepted")
    except openai.NotFoundError as e:
        print("unknown model:", e.status_code, e.code, "-", e.message)
    print("OK: the OpenAI Python client", openai.__version__, "works with", base_url)


if __name__ == "__main__":
    main()
