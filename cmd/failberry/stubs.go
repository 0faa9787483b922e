package main

import (
	"context"
	"errors"
	"io"
)

func cmdRun(context.Context, []string, io.Writer, io.Writer) error    { return errors.New("todo") }
func cmdStatus(context.Context, []string, io.Writer, io.Writer) error { return errors.New("todo") }
func cmdAT(context.Context, []string, io.Writer, io.Writer) error     { return errors.New("todo") }
