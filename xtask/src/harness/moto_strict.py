# Loaded by every moto server the harness starts (as sitecustomize.py, before moto
# serves a request): where the tests rely on an AWS guarantee that moto does not give,
# make moto give it.

import threading

from moto.s3 import responses as _s3_responses

# S3 evaluates If-Match / If-None-Match and stores the object as one atomic step, so of
# two writers holding the same ETag exactly one wins. moto checks the condition and then
# stores, in a threaded server: under load both writers can pass the check and one write
# is lost (seen as a flaky `concurrent_conditional_writes_lose_nothing`). Object writes
# are serialised here so the condition and the write are atomic, as on AWS.
_object_write = threading.Lock()
_put_object = _s3_responses.S3Response.put_object


def _atomic_put_object(self, *args, **kwargs):
    with _object_write:
        return _put_object(self, *args, **kwargs)


_s3_responses.S3Response.put_object = _atomic_put_object
