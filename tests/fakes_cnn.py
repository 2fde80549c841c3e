"""Imported by a worker process before its first job (see the ``preloaded_runner`` fixture): the CNNs
page's trainings run where CIFAR-10 cannot be downloaded.

The CIFAR-10 loader raises :class:`core.data.DatasetUnavailable` with the sentence a real failed
download gives, so the page's job fails with it."""

import dataclasses

import core.data as data

SENTENCE = "cifar10 could not be downloaded (is this machine offline?). Offline alternatives: digits."


def _offline(**_):
    raise data.DatasetUnavailable(SENTENCE)


data.DATASETS["cifar10"] = dataclasses.replace(data.DATASETS["cifar10"], loader=_offline)
