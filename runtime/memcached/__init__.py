"""The Memcached result backend (pymemcache): results and states with expiry, no workflow runs."""
