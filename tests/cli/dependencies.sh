#!/bin/bash
# Placeholder: replaced by the real test.
exit 77
