#!/usr/bin/env bash
echo "kvspill: the demo is not assembled yet"
