runbook "x" {}

# Each nested block is a brace deeper.
step "file" "f" {
  a {
    a {
      a {
        a {
          a {
            a {
              a {
                a {
                  a {
                    a {
                      a {
                        a {
                          a {
                            a {
                              a {
                                a {
                                  a {
                                    a {
                                      a {
                                        a {
                                          a {
                                            a {
                                              a {
                                                a {
                                                  a {
                                                    a {
                                                      a {
                                                        a {
                                                          a {
                                                            a {
                                                              a {
                                                                a {
                                                                  a {
                                                                    a {
                                                                      a {
                                                                        a {
                                                                          a {
                                                                            a {
                                                                              a {
                                                                                a {
                                                                                  a {
                                                                                    a {
                                                                                      a {
                                                                                        a {
                                                                                          a {
                                                                                            a {
                                                                                              a {
                                                                                                a {
                                                                                                  a {
                                                                                                    a {
                                                                                                      a {
                                                                                                        a {
                                                                                                          a {
                                                                                                            a {
                                                                                                              a {
                                                                                                                a {
                                                                                                                  a {
                                                                                                                    a {
                                                                                                                      a {
                                                                                                                        a {
                                                                                                                          a {
                                                                                                                            a {
                                                                                                                              a {
                                                                                                                                a {
                                                                                                                                  a {
                                                                                                                                    a {
                                                                                                                                      a {
                                                                                                                                        a {
                                                                                                                                          a {
                                                                                                                                            a {
                                                                                                                                              a {
                                                                                                                                                a {
                                                                                                                                                  a {
                                                                                                                                                    a {
                                                                                                                                                      a {
                                                                                                                                                        a {
                                                                                                                                                          a {
                                                                                                                                                            a {
                                                                                                                                                              a {
                                                                                                                                                                a {
                                                                                                                                                                  a {
                                                                                                                                                                    a {
                                                                                                                                                                      a {
                                                                                                                                                                        a {
                                                                                                                                                                          a {
                                                                                                                                                                            a {
                                                                                                                                                                              a {
                                                                                                                                                                                a {
                                                                                                                                                                                  a {
                                                                                                                                                                                    a {
                                                                                                                                                                                      a {
                                                                                                                                                                                        a {
                                                                                                                                                                                          a {
                                                                                                                                                                                            a {
                                                                                                                                                                                              a {
                                                                                                                                                                                                a {
                                                                                                                                                                                                  a {
                                                                                                                                                                                                    a {
                                                                                                                                                                                                      a {
                                                                                                                                                                                                        a {
                                                                                                                                                                                                          a {
                                                                                                                                                                                                            a {
                                                                                                                                                                                                              a {
                                                                                                                                                                                                                a {
                                                                                                                                                                                                                  a {
                                                                                                                                                                                                                    a {
                                                                                                                                                                                                                      a {
                                                                                                                                                                                                                        a {
                                                                                                                                                                                                                          a {
                                                                                                                                                                                                                            a {
                                                                                                                                                                                                                              a {
                                                                                                                                                                                                                                a {
                                                                                                                                                                                                                                  a {
                                                                                                                                                                                                                                    a {
                                                                                                                                                                                                                                      a {
                                                                                                                                                                                                                                        a {
                                                                                                                                                                                                                                          a {
                                                                                                                                                                                                                                            a {
                                                                                                                                                                                                                                              a {
                                                                                                                                                                                                                                                a {
                                                                                                                                                                                                                                                  a {
                                                                                                                                                                                                                                                    a {
                                                                                                                                                                                                                                                      a {
                                                                                                                                                                                                                                                        a {
                                                                                                                                                                                                                                                          a {
                                                                                                                                                                                                                                                            a {
                                                                                                                                                                                                                                                              a {
                                                                                                                                                                                                                                                                a { # ERROR: Nested too deeply
                                                                                                                                                                                                                                                                  a {
                                                                                                                                                                                                                                                                    a {
                                                                                                                                                                                                                                                                      a {
                                                                                                                                                                                                                                                                        a {
                                                                                                                                                                                                                                                                          a {
                                                                                                                                                                                                                                                                            a {
                                                                                                                                                                                                                                                                              a {
                                                                                                                                                                                                                                                                                a {
                                                                                                                                                                                                                                                                                  a {
                                                                                                                                                                                                                                                                                    a {
                                                                                                                                                                                                                                                                                      a {
                                                                                                                                                                                                                                                                                        a {
                                                                                                                                                                                                                                                                                        }
                                                                                                                                                                                                                                                                                      }
                                                                                                                                                                                                                                                                                    }
                                                                                                                                                                                                                                                                                  }
                                                                                                                                                                                                                                                                                }
                                                                                                                                                                                                                                                                              }
                                                                                                                                                                                                                                                                            }
                                                                                                                                                                                                                                                                          }
                                                                                                                                                                                                                                                                        }
                                                                                                                                                                                                                                                                      }
                                                                                                                                                                                                                                                                    }
                                                                                                                                                                                                                                                                  }
                                                                                                                                                                                                                                                                }
                                                                                                                                                                                                                                                              }
                                                                                                                                                                                                                                                            }
                                                                                                                                                                                                                                                          }
                                                                                                                                                                                                                                                        }
                                                                                                                                                                                                                                                      }
                                                                                                                                                                                                                                                    }
                                                                                                                                                                                                                                                  }
                                                                                                                                                                                                                                                }
                                                                                                                                                                                                                                              }
                                                                                                                                                                                                                                            }
                                                                                                                                                                                                                                          }
                                                                                                                                                                                                                                        }
                                                                                                                                                                                                                                      }
                                                                                                                                                                                                                                    }
                                                                                                                                                                                                                                  }
                                                                                                                                                                                                                                }
                                                                                                                                                                                                                              }
                                                                                                                                                                                                                            }
                                                                                                                                                                                                                          }
                                                                                                                                                                                                                        }
                                                                                                                                                                                                                      }
                                                                                                                                                                                                                    }
                                                                                                                                                                                                                  }
                                                                                                                                                                                                                }
                                                                                                                                                                                                              }
                                                                                                                                                                                                            }
                                                                                                                                                                                                          }
                                                                                                                                                                                                        }
                                                                                                                                                                                                      }
                                                                                                                                                                                                    }
                                                                                                                                                                                                  }
                                                                                                                                                                                                }
                                                                                                                                                                                              }
                                                                                                                                                                                            }
                                                                                                                                                                                          }
                                                                                                                                                                                        }
                                                                                                                                                                                      }
                                                                                                                                                                                    }
                                                                                                                                                                                  }
                                                                                                                                                                                }
                                                                                                                                                                              }
                                                                                                                                                                            }
                                                                                                                                                                          }
                                                                                                                                                                        }
                                                                                                                                                                      }
                                                                                                                                                                    }
                                                                                                                                                                  }
                                                                                                                                                                }
                                                                                                                                                              }
                                                                                                                                                            }
                                                                                                                                                          }
                                                                                                                                                        }
                                                                                                                                                      }
                                                                                                                                                    }
                                                                                                                                                  }
                                                                                                                                                }
                                                                                                                                              }
                                                                                                                                            }
                                                                                                                                          }
                                                                                                                                        }
                                                                                                                                      }
                                                                                                                                    }
                                                                                                                                  }
                                                                                                                                }
                                                                                                                              }
                                                                                                                            }
                                                                                                                          }
                                                                                                                        }
                                                                                                                      }
                                                                                                                    }
                                                                                                                  }
                                                                                                                }
                                                                                                              }
                                                                                                            }
                                                                                                          }
                                                                                                        }
                                                                                                      }
                                                                                                    }
                                                                                                  }
                                                                                                }
                                                                                              }
                                                                                            }
                                                                                          }
                                                                                        }
                                                                                      }
                                                                                    }
                                                                                  }
                                                                                }
                                                                              }
                                                                            }
                                                                          }
                                                                        }
                                                                      }
                                                                    }
                                                                  }
                                                                }
                                                              }
                                                            }
                                                          }
                                                        }
                                                      }
                                                    }
                                                  }
                                                }
                                              }
                                            }
                                          }
                                        }
                                      }
                                    }
                                  }
                                }
                              }
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
